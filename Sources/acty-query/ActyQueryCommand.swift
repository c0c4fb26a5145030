import ActyQueryCLI
import ArgumentParser

/// The `acty-query` executable: the commands live in the ActyQueryCLI library.
@main
struct ActyQueryCommand: AsyncParsableCommand {
    static let configuration = ActyQuery.configuration
}
