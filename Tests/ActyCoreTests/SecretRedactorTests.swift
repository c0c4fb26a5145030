@testable import ActyCore
import Testing

struct SecretRedactorTests {
    static let secretCases: [(String, String)] = [
        // Bearer tokens keep the scheme, lose the credential.
        ("Authorization: Bearer abc123.def456-ghi_789", "Authorization: Bearer [REDACTED]"),
        ("401 from provider (bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig==) denied", "401 from provider (bearer [REDACTED]) denied"),
        ("BEARER   tok3n-with-digits", "BEARER   [REDACTED]"),
        // Provider keys anywhere in the text.
        ("invalid key sk-abcdefghijklmnop1234 supplied", "invalid key [REDACTED] supplied"),
        ("OpenAI: sk-proj-Ab12Cd34Ef56Gh78 is not valid", "OpenAI: [REDACTED] is not valid"),
        ("anthropic sk-ant-api03-ZZZZzzzz9999-xx rejected", "anthropic [REDACTED] rejected"),
        ("slack said xoxb-123456789012-abcdefABCDEF", "slack said [REDACTED]"),
        ("GitHub token ghp_1234567890abcdefghijABCDEFGHIJ123456 expired", "GitHub token [REDACTED] expired"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz is revoked", "[REDACTED] is revoked"),
        ("AWS key AKIAIOSFODNN7EXAMPLE denied", "AWS key [REDACTED] denied"),
        ("google AIzaSyA1234567890abcdefghijklmnopqrstuv failed", "google [REDACTED] failed"),
        // key=value and key: value credentials.
        ("GET /v1?api_key=abc123&model=x failed", "GET /v1?api_key=[REDACTED]&model=x failed"),
        ("apikey: 98765 rejected", "apikey: [REDACTED] rejected"),
        ("X-API-Key: abcdef", "X-API-Key: [REDACTED]"),
        ("token: deadbeef", "token: [REDACTED]"),
        ("access_token=xyz.123, retrying", "access_token=[REDACTED], retrying"),
        ("password=hunter2 for user bob", "password=[REDACTED] for user bob"),
        ("PASSWD = s3cr3t", "PASSWD = [REDACTED]"),
        ("secret:'quoted'", "secret:'[REDACTED]'"),
        (#"{"api_key": "abc123", "model": "gpt"}"#, #"{"api_key": "[REDACTED]", "model": "gpt"}"#),
        (#"{"password":"correct horse battery staple"}"#, #"{"password":"[REDACTED]"}"#),
        (#"{"token": "hunter2 \"quoted\" tail", "n": 1}"#, #"{"token": "[REDACTED]", "n": 1}"#),
        // Credentials with a prefix joined by an underscore or a hyphen.
        ("client_secret=abc123 invalid", "client_secret=[REDACTED] invalid"),
        ("refresh_token: r-123 expired", "refresh_token: [REDACTED] expired"),
        ("db_password=pa55 wrong", "db_password=[REDACTED] wrong"),
        ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG", "aws_secret_access_key=[REDACTED]"),
        // Passwords in connection URLs.
        ("could not connect to postgres://admin:hunter2@db.internal:5432/app", "could not connect to postgres://admin:[REDACTED]@db.internal:5432/app"),
        // Several secrets in one message.
        (
            "token=aaa111 and Bearer bbb222ccc and sk-cccccccccccccccc",
            "token=[REDACTED] and Bearer [REDACTED] and [REDACTED]"
        ),
        (
            "Authorization: Basic dXNlcjpwYXNz; token=deadbeef; sk-abc123",
            "Authorization: Basic [REDACTED]; token=[REDACTED]; [REDACTED]"
        ),
        // Authorization headers of any scheme: the scheme stays.
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic [REDACTED]"),
        ("curl -H 'Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l' https://x", "curl -H 'Authorization: Basic [REDACTED]' https://x"),
        ("Proxy-Authorization: Basic Zm9vOmJhcg==", "Proxy-Authorization: Basic [REDACTED]"),
        (#"{"authorization":"Token tok_abc123"}"#, #"{"authorization":"Token [REDACTED]"}"#),
        ("authorization=abc123; retrying", "authorization=[REDACTED]; retrying"),
        // A header value without a scheme: the value is the credential, whatever follows it stays.
        ("Authorization: abc123def456 rejected", "Authorization: [REDACTED] rejected"),
        ("Authorization: AWS4-HMAC-SHA256 Credential=AKID/20250101", "Authorization: AWS4-HMAC-SHA256 [REDACTED]"),
        // `api key` with a space before its colon or equals sign.
        ("api key: abc123 was rejected", "api key: [REDACTED] was rejected"),
        ("API Key = 'k-123'", "API Key = '[REDACTED]'"),
        // Python reprs and keyword arguments.
        ("{'Authorization': 'Basic dXNlcjpwYXNz', 'Accept': 'json'}", "{'Authorization': 'Basic [REDACTED]', 'Accept': 'json'}"),
        ("Client(api_key='sk-abc123', timeout=30)", "Client(api_key='[REDACTED]', timeout=30)"),
        ("{'password': 'hunter2'}", "{'password': '[REDACTED]'}"),
        // API keys after a space, and bare provider keys.
        ("apikey xyz123abc456 rejected", "apikey [REDACTED] rejected"),
        ("invalid API key abcdefghijklmnopqrstu", "invalid API key [REDACTED]"),
        ("sk-abc123", "[REDACTED]"),
        ("key was sk-proj-x1y2z3 (bare)", "key was [REDACTED] (bare)"),
        // NSError and Foundation descriptions keep their brackets.
        (
            #"Error Domain=NSURLErrorDomain Code=-1011 "(null)" UserInfo={token=abc123}"#,
            #"Error Domain=NSURLErrorDomain Code=-1011 "(null)" UserInfo={token=[REDACTED]}"#
        ),
        (
            #"Error Domain=Provider Code=401 "denied" UserInfo={NSLocalizedDescription=denied, apiKey=abc123}"#,
            #"Error Domain=Provider Code=401 "denied" UserInfo={NSLocalizedDescription=denied, apiKey=[REDACTED]}"#
        ),
        (#"["api_key": "abc123", "model": "gpt"]"#, #"["api_key": "[REDACTED]", "model": "gpt"]"#),
        ("request(token=abc123) failed", "request(token=[REDACTED]) failed"),
        ("(password=abc)def)", "(password=[REDACTED])"),
        // Query strings and URLs inside JSON.
        ("GET /cb?code=1&access_token=abc123&state=x#frag", "GET /cb?code=1&access_token=[REDACTED]&state=x#frag"),
        (#"{"url":"https://bob:hunter2@host/x"}"#, #"{"url":"https://bob:[REDACTED]@host/x"}"#),
    ]

    @Test(arguments: secretCases)
    func redactsSecrets(text: String, expected: String) {
        #expect(SecretRedactor.redact(text) == expected)
    }

    @Test(arguments: secretCases)
    func redactedTextKeepsNoPartOfTheSecret(text: String, expected: String) {
        let redacted = SecretRedactor.redact(text)
        let secrets = [
            "abc123", "hunter2", "deadbeef", "98765", "s3cr3t", "eyJ", "1234567890", "pa55", "wJalr", "bbb222", "dXNlcjpwYXNz",
            "YWxhZGRpbj", "Zm9vOmJhcg", "xyz123", "abcdefghijklmnopqrstu", "x1y2z3", "def)",
        ]
        for secret in secrets
        where text.contains(secret) {
            #expect(!redacted.contains(secret), "\(secret) leaked in \(redacted)")
        }
        #expect(!redacted.contains("$1"))
    }

    static let ordinaryText: [String] = [
        "",
        "connection reset by peer",
        "timeout after 30s: upstream did not answer",
        "HTTP 500: internal server error",
        "rate limited - retry in 20 seconds",
        "the bearer of bad news arrived late",
        "task-management-system crashed at step 4",
        "risk-assessment-framework: 3 errors",
        "Unexpected end of input at line 1, column 12",
        "résumé: naïve café ✓ 😀",
        "key=value pairs are fine when the key is not a credential",
        "tokens: 1523 used of 4096",
        "secretary: Alice",
        "max_tokens=4096 exceeded, input_tokens: 12",
        "Bearer",
        "passwords must differ",
        "file /tmp/sk-1/out.txt not found",
        "a-b c=d e:f",
        // Near misses: credential words in prose, and key-like text that is not a key.
        "authorization failed for user bob",
        "Basic Authentication required",
        "the apikey is missing",
        "api key rotation is due",
        "task-abc123 finished, disk-usage1234 high",
        "sk-1 too short",
        "monkey=banana turkey: 3",
        "passwordless login enabled",
        #"Error Domain=NSCocoaErrorDomain Code=4 "missing" UserInfo={NSFilePath=/tmp/x}"#,
    ]

    @Test(arguments: ordinaryText)
    func leavesTextWithoutSecretsUnchanged(text: String) {
        #expect(SecretRedactor.redact(text) == text)
    }

    @Test func redactingTwiceChangesNothingMore() {
        for (text, _) in Self.secretCases {
            let once = SecretRedactor.redact(text)
            #expect(SecretRedactor.redact(once) == once)
        }
    }

    static let textWithoutCredentialWords = [
        "connection reset by peer", "HTTP 500: internal server error", "timeout after 30s: upstream did not answer",
        "rate limited - retry in 20 seconds", "Unexpected end of input at line 1, column 12", "résumé: naïve café ✓ 😀",
        "rapid capital therapist", #"Error Domain=NSCocoaErrorDomain Code=4 "missing" UserInfo={NSFilePath=/tmp/x}"#,
    ]

    /// The fast path: messages without a credential word skip every regular expression.
    @Test func onlyTextWithACredentialWordIsScanned() {
        for text in Self.textWithoutCredentialWords {
            #expect(!SecretRedactor.mayHoldSecret(text), "\(text)")
        }
        for (text, _) in Self.secretCases {
            #expect(SecretRedactor.mayHoldSecret(text), "\(text)")
        }
    }

    /// The compiled patterns are shared by every thread: tasks redacting at once each get their own text back.
    @Test func concurrentRedactionsGiveEachCallersResult() async {
        let cases = Self.secretCases
        let results = await withTaskGroup(of: [Bool].self) { group in
            for offset in 0..<8 {
                group.addTask {
                    (0..<40).map { index in
                        let (text, expected) = cases[(index + offset) % cases.count]
                        return SecretRedactor.redact(text) == expected
                    }
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        #expect(results.count == 320)
        #expect(results.allSatisfy { $0 })
    }
}
