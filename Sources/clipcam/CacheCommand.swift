import ArgumentParser
import ClipCamKit
import Foundation
import Investigator

struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "List or clear the embedding cache of `analyze` and `search`.",
        discussion: """
            The cache is \(EmbeddingCache.defaultFolderRule). Each file holds one video's (or image's) frame \
            embeddings for one model, sampling and precision, keyed by the file's content, not its name.

            Examples:
              clipcam cache list
              clipcam cache clear
            """,
        subcommands: [List.self, Clear.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The cached files, least recently used first, with their sizes.")
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let cache = EmbeddingCache(folder: EmbeddingCache.defaultFolder)
            let entries = cache.entries()
            let total = entries.reduce(0) { $0 + $1.bytes }
            if json {
                let rows = entries.map { e in
                    "{\"path\":\(JSONText.string(e.path)),\"bytes\":\(e.bytes),"
                        + "\"last_used\":\(JSONText.number(e.lastUsed.timeIntervalSince1970)),"
                        + "\"source\":\(e.sourceName.map(JSONText.string) ?? "null"),"
                        + "\"frames\":\(e.frames.map(String.init) ?? "null"),"
                        + "\"complete\":\(e.complete.map(String.init) ?? "null"),"
                        + "\"sampling\":\(e.sampling.map(JSONText.string) ?? "null"),"
                        + "\"precision\":\(e.precision.map(JSONText.string) ?? "null")}"
                }
                print(
                    "{\"folder\":\(JSONText.string(cache.folder.path)),\"bytes\":\(total),"
                        + "\"entries\":[\(rows.joined(separator: ","))]}")
                return
            }
            print("\(cache.folder.path): \(entries.count) files, \(String(format: "%.1f", Double(total) / 1e6)) MB")
            let formatter = ISO8601DateFormatter()
            for e in entries {
                let state = e.complete == false ? ", incomplete" : ""
                print(
                    "  \(e.sourceName ?? "?")  \(e.frames.map(String.init) ?? "?") frames (\(e.sampling ?? "?"), "
                        + "\(e.precision ?? "?")\(state))  \(String(format: "%.1f", Double(e.bytes) / 1e6)) MB  "
                        + "used \(formatter.string(from: e.lastUsed))")
            }
        }
    }

    struct Clear: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove every cached file.")

        func run() throws {
            let cache = EmbeddingCache(folder: EmbeddingCache.defaultFolder)
            let (files, bytes) = cache.clear()
            print(
                "removed \(files) files (\(String(format: "%.1f", Double(bytes) / 1e6)) MB) from \(cache.folder.path)")
        }
    }
}
