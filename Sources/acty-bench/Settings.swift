import Acty
import ActyStore
import ArgumentParser

/// The SQLite settings a run used, as reported in every workload's JSON line.
func sqliteSettings(_ durability: Durability) -> JSONValue {
    [
        "journal_mode": "wal", "synchronous": .string(durability == .power ? "full" : "normal"),
        "cache_size_kib": .number(Double(Store.pageCacheKiB)),
        "background_checkpoint_frames": .number(Double(Store.checkpointFrames.background)),
        "writer_checkpoint_frames": .number(Double(Store.checkpointFrames.writer)),
    ]
}

/// Parses `--durability`.
func parseDurability(_ text: String) throws -> Durability {
    guard let durability = Durability(rawValue: text) else {
        throw ValidationError("--durability must be 'process' or 'power', not '\(text)'.")
    }
    return durability
}
