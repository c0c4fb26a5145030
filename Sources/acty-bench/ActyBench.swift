import Acty
import ArgumentParser
import Foundation

@main
struct ActyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acty-bench",
        abstract: "Measures Acty on standard workloads; each prints one JSON line.",
        discussion: "Build in release mode for meaningful numbers: swift run -c release acty-bench fanout",
        subcommands: [Fanout.self, Scale.self, Latency.self, Fairness.self, Dependencies.self, Recovery.self, RecoveryVictim.self, LLM.self, ProcessBridge.self]
    )
}
