import ActyCore
import ArgumentParser
import Foundation

/// `acty-tui snapshot <db | file.jsonl>`: one frame as plain text, for scripts, bug reports and CI.
struct Snapshot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print one frame of the dashboard as plain text and exit.",
        discussion: """
            Reads every event of the file (an Acty database, or a JSONL log in acty's envelope: ours from \
            `acty-query export-jsonl` or Python acty's own) and renders the state after the last one.

            Example:
              acty-tui snapshot acty.db --width 120 --height 40
            """
    )

    @Argument(help: "An Acty database file (opened read-only) or a JSONL event log.")
    var path: String
    @Option(help: "Columns of the frame.")
    var width = 80
    @Option(help: "Lines of the frame.")
    var height = 24
    @Option(help: "The screen: dashboard, timeline, log or help.")
    var screen: ScreenName = .dashboard

    enum ScreenName: String, ExpressibleByArgument, CaseIterable {
        case dashboard, timeline, log, help

        var screen: ViewContext.Screen {
            switch self {
            case .dashboard: .dashboard
            case .timeline: .timeline
            case .log: .log
            case .help: .help
            }
        }
    }

    func validate() throws {
        guard (20...1000).contains(width), (5...1000).contains(height) else {
            throw ValidationError("--width must be 20...1000 and --height 5...1000.")
        }
    }

    func run() throws {
        try reportingErrors {
            let state = try RunLog.state(of: path)
            let context = ViewContext(title: URL(fileURLWithPath: path).lastPathComponent, screen: screen.screen)
            print(View.render(state, context, width: width, height: height).plainText, terminator: "")
        }
    }
}

/// Runs `body`, turning an error into one line on standard error and exit status 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ActyError {
        FileHandle.standardError.write(Data("acty-tui: \(error.message)\n".utf8))
        throw ExitCode(1)
    }
}
