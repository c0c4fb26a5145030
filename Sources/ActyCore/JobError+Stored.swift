extension JobError {
    /// The stored form: `{"type": …, "message": …}`.
    package var jsonValue: JSONValue { .object(["type": .string(type), "message": .string(message)]) }

    /// The stored form as JSON text.
    package var jsonString: String { jsonValue.jsonString }

    /// Reads the stored form; text that is not in that form becomes the message.
    package init(stored: String) {
        if let value = try? JSONValue(jsonString: stored), let type = value["type"]?.stringValue, let message = value["message"]?.stringValue {
            self.init(type: type, message: message)
        } else {
            self.init(type: "error", message: stored)
        }
    }
}
