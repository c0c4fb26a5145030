import ActyCore
import ActyStore
import ArgumentParser
import Foundation

/// `acty-query metrics`: the database's metrics in the Prometheus text format, for a textfile exporter or a cron job.
struct Metrics: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the database's metrics in the Prometheus text format.",
        discussion: """
            Computed from the file, so it covers every engine and every run that used it: jobs by lane, role, executor
            and state, attempts by outcome, retries, tokens, queue depth and the oldest ready job's age by lane, groups,
            live engines. Every metric is a gauge (pruning lowers the counts). The engine's own live metrics go through
            swift-metrics instead (README.md, "Observability").

            Example:
              acty-query metrics acty.db > /var/lib/node_exporter/acty.prom
            """
    )

    @Argument(help: "The Acty database file (opened read-only).")
    var db: String

    func run() async throws {
        try reportingErrors {
            emit(PrometheusText.render(try openReadOnly(db).metricsSnapshot()))
        }
    }
}

/// The Prometheus text exposition format (version 0.0.4).
enum PrometheusText {
    /// The `Content-Type` of a scrape's answer.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    static func render(_ snapshot: MetricsSnapshot) -> String {
        var text = ""
        for family in snapshot.families {
            text += "# HELP \(family.name) \(escapeHelp(family.help))\n"
            text += "# TYPE \(family.name) gauge\n"
            for sample in family.samples {
                text += family.name
                if !sample.labels.isEmpty {
                    text += "{" + sample.labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
                }
                text += " \(format(sample.value))\n"
            }
        }
        return text
    }

    private static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    private static func escapeHelp(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    private static func escapeLabel(_ text: String) -> String {
        escapeHelp(text).replacingOccurrences(of: "\"", with: "\\\"")
    }
}
