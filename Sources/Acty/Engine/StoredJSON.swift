import ActyStore

/// The JSON text the engine stores for a payload, a context or an output: only text that reads back as the same
/// value, and that SQLite can hold.
enum StoredJSON {
    /// The value's text, or why it cannot be stored, as a phrase that follows the value's name ("nests arrays and
    /// objects 600 levels deep, …").
    static func text(_ value: JSONValue, limit: Int = Store.maximumTextBytes) -> Result<String, Refusal> {
        let text: String
        do {
            text = try value.storableJSONString()
        } catch {
            return .failure(Refusal(message: error.message))
        }
        let bytes = text.utf8.count
        guard bytes <= limit else {
            return .failure(Refusal(message: "is \(bytes) bytes of JSON text, more than the \(limit) bytes SQLite stores in one value"))
        }
        return .success(text)
    }

    /// Why a value cannot be stored.
    struct Refusal: Error {
        /// A phrase that follows the value's name.
        let message: String
    }
}
