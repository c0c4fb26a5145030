import Acty
import ActyOpenAI
package import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// GigaChat's OAuth access tokens (client credentials), shared by every job of the process that uses the same
/// endpoint, credentials and scope: one token at a time, fetched by one request however many jobs need it at once,
/// replaced shortly before it expires or when the API refuses it.
///
/// Tokens and credentials live in memory only.
package actor GigaChatTokens {
    private struct Token {
        var value: String
        /// Seconds since 1970.
        var expiresAt: Double
    }

    private let authURL: String
    private let credentials: String
    private let scope: String
    private let refreshMargin: Double
    private let timeout: Duration
    private var current: Token?
    private var fetching: Task<Token, any Error>?
    /// How many tokens this provider fetched (for tests and diagnostics).
    package private(set) var fetches = 0

    private init(authURL: String, credentials: String, scope: String, refreshMargin: Duration, timeout: Duration) {
        self.authURL = authURL
        self.credentials = credentials
        self.scope = scope
        self.refreshMargin = refreshMargin.secondsValue
        self.timeout = timeout
    }

    private struct Key: Hashable {
        var authURL: String
        var credentials: String
        var scope: String
    }

    /// The providers of this process, one per endpoint, credentials and scope.
    private static let shared = Locked<[Key: GigaChatTokens]>([:])

    /// The process's provider for these settings, created on first use.
    package static func shared(
        authURL: String, credentials: String, scope: String, refreshMargin: Duration, timeout: Duration
    ) -> GigaChatTokens {
        let key = Key(authURL: authURL, credentials: credentials, scope: scope)
        return shared.withLock { providers in
            if let provider = providers[key] { return provider }
            let provider = GigaChatTokens(
                authURL: authURL, credentials: credentials, scope: scope, refreshMargin: refreshMargin, timeout: timeout
            )
            providers[key] = provider
            return provider
        }
    }

    /// A token valid for at least the refresh margin, fetched over `client` when there is none.
    package func token(using client: HTTPClient) async throws -> String {
        if let current, current.expiresAt - refreshMargin > Date().timeIntervalSince1970 { return current.value }
        let task: Task<Token, any Error>
        if let fetching {
            task = fetching
        } else {
            // Not a child of the caller: cancelling the job that happened to start the fetch must not fail the others
            // waiting for it. The fetch is bounded by `timeout`.
            task = Task { try await self.fetch(client) }
            fetching = task
        }
        do {
            let token = try await task.value
            if fetching == task {
                fetching = nil
                current = token
            }
            return token.value
        } catch {
            if fetching == task { fetching = nil }
            throw error
        }
    }

    /// Drops `token` after the API refused it, unless a newer one already replaced it.
    package func invalidate(_ token: String) {
        if current?.value == token { current = nil }
    }

    private func fetch(_ client: HTTPClient) async throws -> Token {
        fetches += 1
        var request = HTTPClientRequest(url: authURL)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Basic \(credentials)")
        request.headers.add(name: "RqUID", value: UUID().uuidString.lowercased())
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        let scopeText = scope.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "_-."))) ?? scope
        request.body = .bytes(ByteBuffer(string: "scope=\(scopeText)"))
        let redactor = Redactor(secrets: [credentials])
        let body: ByteBuffer
        let status: Int
        do {
            let response = try await client.execute(request, timeout: .nanoseconds(Int64(timeout.secondsValue * 1e9)))
            status = Int(response.status.code)
            body = try await response.body.collect(upTo: 1 << 20)
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw LLMProviderError(kind: .authentication, message: "the token request failed: \(redactor.redact(String(describing: error)))", provider: "gigachat")
        }
        let text = String(buffer: body)
        guard status == 200 else {
            let message = ChatTransport.errorMessage(in: text) ?? text
            let error = LLMProviderError(kind: .authentication, status: status, message: redactor.redact(message), provider: "gigachat")
            throw error.isRetryable ? error : NonRetryableError(error)
        }
        guard let json = try? JSONValue(jsonString: text), let value = json["access_token"]?.stringValue, !value.isEmpty else {
            throw LLMProviderError(kind: .authentication, status: status, message: "the token answer has no access_token", provider: "gigachat")
        }
        // `expires_at` is in milliseconds since 1970; without it, assume GigaChat's 30 minutes.
        let expiresAt = json["expires_at"]?.doubleValue.map { $0 / 1000 } ?? Date().timeIntervalSince1970 + 1800
        return Token(value: value, expiresAt: expiresAt)
    }
}

extension Duration {
    var secondsValue: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
