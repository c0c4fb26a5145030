import ActyTUI
import ArgumentParser

/// The `acty-tui` executable: the commands live in the ActyTUI library.
@main
struct ActyTUICommand: AsyncParsableCommand {
    static let configuration = ActyTUI.configuration
}
