public import Acty
import ActyOpenAI
public import AsyncHTTPClient
import Foundation
import NIOSSL

/// Runs jobs as GigaChat chat completion calls.
///
/// GigaChat speaks the chat completions protocol, so payloads, output, usage recording, the group prefix, streaming
/// and error classification are those of `OpenAIExecutor` (the same code). What GigaChat adds:
///
/// - **OAuth**: an access token is fetched from ``GigaChatConfiguration/authURL`` with the client credentials
///   (`Authorization: Basic …`, a fresh `RqUID` per request, the ``GigaChatConfiguration/scope``). The token is
///   shared by every job of the process using the same credentials: one fetch however many jobs need it at once,
///   replaced ``GigaChatConfiguration/tokenRefreshMargin`` before its `expires_at`, and when a call is refused with a
///   401 the token is replaced once and the call sent again. Credentials and tokens never leave memory.
/// - **Session**: every call carries `X-Session-ID`, the group's session reference (its cache handle's provider
///   reference, else an id derived from the group key), so every job of a group shares the provider session and its
///   cached prefix.
/// - **CA bundle**: ``GigaChatConfiguration/caBundlePath`` adds GigaChat's certificate authority to the trusted
///   roots of the executor's HTTP client.
///
/// Call ``shutdown()`` after the engine has shut down to close the executor's HTTP client.
public final class GigaChatExecutor: Executor {
    /// The executor's name (``GigaChatConfiguration/name``).
    public let name: String
    private let settings: ChatCallSettings
    private let client: OwnedHTTPClient
    private let tokens: GigaChatTokens
    private let prefixes = PrimerPrefixCache()

    /// Creates an executor.
    ///
    /// - Parameters:
    ///   - configuration: where to call and how.
    ///   - httpClient: a client to share (it must trust GigaChat's CA itself; ``GigaChatConfiguration/caBundlePath``
    ///     applies only to the executor's own client); `nil` creates one that ``shutdown()`` closes.
    /// - Throws: ``LLMConfigurationError`` for unset credentials, an unusable URL, or a CA bundle that cannot be
    ///   read.
    public init(_ configuration: GigaChatConfiguration, httpClient: HTTPClient? = nil) throws {
        guard let credentials = try configuration.credentials.resolve() else {
            throw LLMConfigurationError("GigaChat needs credentials (the authorization key); pass .literal(_:) or .environment(_:)")
        }
        guard !configuration.model.isEmpty else { throw LLMConfigurationError("the model is empty; pass a model such as GigaChat") }
        guard !configuration.scope.isEmpty else { throw LLMConfigurationError("the scope is empty; GIGACHAT_API_PERS is the personal one") }
        guard configuration.requestTimeout > .zero, configuration.tokenTimeout > .zero else {
            throw LLMConfigurationError("requestTimeout and tokenTimeout must be positive")
        }
        let authURL = try OpenAIConfiguration.endpoint(baseURL: configuration.authURL, path: "")
        let tls = try configuration.caBundlePath.map(Self.tlsConfiguration(caBundle:))
        name = configuration.name
        client = OwnedHTTPClient(httpClient, maximumConnections: max(1, configuration.maximumConnections), tls: tls)
        tokens = GigaChatTokens.shared(
            authURL: String(authURL.dropLast()), credentials: credentials, scope: configuration.scope,
            refreshMargin: configuration.tokenRefreshMargin, timeout: configuration.tokenTimeout
        )
        settings = ChatCallSettings(
            url: try OpenAIConfiguration.endpoint(baseURL: configuration.baseURL, path: "chat/completions"), headers: [],
            model: configuration.model, extraBody: configuration.extraBody, timeout: configuration.requestTimeout, stream: configuration.stream,
            includePrimerAnswer: configuration.includePrimerAnswer, sendsGroupPrefix: configuration.sendsGroupPrefix, sendsPromptCacheKey: false,
            requestsStreamUsage: false, rateLimitDelay: configuration.rateLimitRetryDelay, transport: ChatTransport(client: client.client, provider: "gigachat", redactor: Redactor(secrets: [credentials]))
        )
    }

    /// Runs one attempt: a chat completions call with the process's token and the group's session id.
    public func execute(_ job: Job) async throws -> JSONValue {
        var call = try await settings.makeCall(for: job, prefixes: prefixes)
        call.headers.append(("X-Session-ID", Self.sessionID(of: job)))
        var refreshed = false
        while true {
            let token = try await tokens.token(using: client.client)
            var authorized = call
            authorized.headers.append(("Authorization", "Bearer \(token)"))
            do {
                return try await settings.complete(authorized, for: job)
            } catch var failure as ChatFailure {
                failure.redact(token)
                // A refused token (revoked, or expired early): replace it once and send the call again.
                if failure.error.status == 401, !refreshed {
                    refreshed = true
                    await tokens.invalidate(token)
                    continue
                }
                throw failure.engineError(rateLimitDelay: settings.rateLimitDelay)
            }
        }
    }

    /// Closes the HTTP client the executor created (a client passed in is left open). Call it after the engine has
    /// shut down; calling it again does nothing.
    public func shutdown() async throws {
        try await client.shutdown()
    }

    /// The group's session id: its cache handle's provider reference, else a UUID-shaped id derived from the group key
    /// (the same in every process, so a group's jobs share the session wherever they run).
    public static func sessionID(of job: Job) -> String {
        if let reference = job.cache?.providerRef, !reference.isEmpty { return reference }
        return stableID(job.groupKey)
    }

    /// A UUID-shaped FNV-1a digest of `text`.
    static func stableID(_ text: String) -> String {
        func fnv(_ seed: UInt64) -> UInt64 {
            var hash = seed
            for byte in text.utf8 {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01B3
            }
            return hash
        }
        let high = fnv(0xCBF2_9CE4_8422_2325)
        let low = fnv(0x8422_2325_CBF2_9CE4 ^ UInt64(text.utf8.count))
        let hex = String(high, radix: 16).leftPadded(16) + String(low, radix: 16).leftPadded(16)
        let characters = Array(hex)
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(characters[$0]) }.joined(separator: "-")
    }

    /// TLS settings that trust the certificates in the PEM file at `path` besides the system's roots.
    static func tlsConfiguration(caBundle path: String) throws -> TLSConfiguration {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw LLMConfigurationError("the CA bundle '\(path)' does not exist or cannot be read; pass the path of a PEM file of GigaChat's root certificate")
        }
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            throw LLMConfigurationError("the CA bundle '\(path)' is not a PEM file of certificates (\(error))")
        }
        guard !certificates.isEmpty else {
            throw LLMConfigurationError("the CA bundle '\(path)' holds no certificate; it should hold '-----BEGIN CERTIFICATE-----' blocks")
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.additionalTrustRoots = [.certificates(certificates)]
        return tls
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
