/// What a frame shows besides the run's state: the screen, the source, the reader's position, filters and scrolling.
/// The terminal layer changes it on keys; the view layer only reads it.
package struct ViewContext: Sendable, Hashable {
    package enum Screen: Sendable, Hashable {
        case dashboard, timeline, log, help
        /// A group's jobs (drill-down from the dashboard).
        case group(String)
        /// One job: its attempts as the log tells them, and details read from the database when there is one.
        case job(String)
    }

    /// The file being shown.
    package var title: String
    package var screen: Screen = .dashboard
    /// Where the reader is (`replay 120/854 ×2 paused`, `follow`), shown in the header.
    package var position: String?
    /// Text the groups list (dashboard) or the event log must contain, set with `/`.
    package var filter = ""
    /// Whether the filter is being typed.
    package var editingFilter = false
    /// The highlighted row of the groups list or of a group's jobs.
    package var selected = 0
    /// Lines scrolled up from the newest in the event log.
    package var scroll = 0
    /// Extra lines for the job screen (details a database holds), prepared by the caller.
    package var jobDetails: [String] = []
    /// The group screen's jobs as the database holds them (follow, or replay of a database), prepared by the
    /// caller: the state keeps only recent jobs.
    package var groupJobs: [DashboardState.Job] = []

    package init(title: String, screen: Screen = .dashboard, position: String? = nil) {
        self.title = title
        self.screen = screen
        self.position = position
    }
}
