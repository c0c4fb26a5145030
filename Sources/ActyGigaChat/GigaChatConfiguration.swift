public import Acty
public import ActyOpenAI
import Foundation

/// How a ``GigaChatExecutor`` reaches GigaChat.
///
/// ```swift
/// GigaChatConfiguration(credentials: .environment("GIGACHAT_CREDENTIALS"), caBundlePath: "/etc/ssl/russian_trusted_root_ca.pem")
/// ```
public struct GigaChatConfiguration: Sendable {
    /// The executor's name, which jobs use to find it.
    public var name: String
    /// The API's base URL; requests go to `<baseURL>/chat/completions`.
    public var baseURL: String
    /// The OAuth token endpoint.
    public var authURL: String
    /// The authorization key: base64 of `client_id:client_secret`, as GigaChat's console shows it, sent as
    /// `Authorization: Basic <credentials>` to ``authURL`` only. By default read from `GIGACHAT_CREDENTIALS`.
    public var credentials: APIKey
    /// The OAuth scope: `GIGACHAT_API_PERS` (personal), `GIGACHAT_API_B2B` or `GIGACHAT_API_CORP`.
    public var scope: String
    /// The model when a job's payload names none.
    public var model: String
    /// A PEM file of the certificate authorities to trust besides the system's (GigaChat's servers use the Russian
    /// Trusted Root CA, which most systems lack). Loaded when the executor is created; a file that cannot be read
    /// or holds no certificate fails there with a clear error.
    public var caBundlePath: String?
    /// How long before its expiry a token is replaced.
    public var tokenRefreshMargin: Duration
    /// How long a token request may take.
    public var tokenTimeout: Duration
    /// Fields added to every request body (a job's payload overrides them).
    public var extraBody: [String: JSONValue]
    /// How long one chat call may take, streaming included; a job's `timeout_s` overrides it.
    public var requestTimeout: Duration
    /// Whether calls stream (SSE) unless a job's `stream` says otherwise.
    public var stream: Bool
    /// Whether a follower is also sent its primer's answer after the primer's messages.
    public var includePrimerAnswer: Bool
    /// Whether followers are sent their primer's messages (the group prefix).
    public var sendsGroupPrefix: Bool
    /// The most connections the executor's own HTTP client opens per host.
    public var maximumConnections: Int
    /// How long the retry after a 429 without `Retry-After` waits (a 429 always tells the engine's rate limiter).
    public var rateLimitRetryDelay: Duration

    /// Creates a configuration.
    public init(
        name: String = "gigachat",
        baseURL: String = "https://gigachat.devices.sberbank.ru/api/v1",
        authURL: String = "https://ngw.devices.sberbank.ru:9443/api/v2/oauth",
        credentials: APIKey = .environment("GIGACHAT_CREDENTIALS", required: true),
        scope: String = "GIGACHAT_API_PERS",
        model: String = "GigaChat",
        caBundlePath: String? = nil,
        tokenRefreshMargin: Duration = .seconds(60),
        tokenTimeout: Duration = .seconds(30),
        extraBody: [String: JSONValue] = [:],
        requestTimeout: Duration = .seconds(120),
        stream: Bool = false,
        includePrimerAnswer: Bool = false,
        sendsGroupPrefix: Bool = true,
        maximumConnections: Int = 64,
        rateLimitRetryDelay: Duration = .seconds(1)
    ) {
        self.name = name
        self.baseURL = baseURL
        self.authURL = authURL
        self.credentials = credentials
        self.scope = scope
        self.model = model
        self.caBundlePath = caBundlePath
        self.tokenRefreshMargin = tokenRefreshMargin
        self.tokenTimeout = tokenTimeout
        self.extraBody = extraBody
        self.requestTimeout = requestTimeout
        self.stream = stream
        self.includePrimerAnswer = includePrimerAnswer
        self.sendsGroupPrefix = sendsGroupPrefix
        self.maximumConnections = maximumConnections
        self.rateLimitRetryDelay = rateLimitRetryDelay
    }
}
