import Foundation
import Testing

@testable import CLIPTokenizer

/// One prompt of Tests/Fixtures/tokens/{clip-vocab,small-vocab}.json, written by scripts/fixtures/gen_tokens.py.
struct TokenCase: Decodable {
    /// The prompt.
    var text: String
    /// The reference's 77-token context without padding: start token, tokens, end token.
    var ids: [Int32]
    /// The reference's encode(): no start/end token, not truncated.
    var encoded: [Int32]
    /// The reference's decode(encoded).
    var decoded: String
    /// Only for prompts ftfy's mojibake repair changes: the reference's ids with that repair turned off.
    var idsWithoutMojibakeRepair: [Int32]?
}

enum Fixtures {
    static let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tokens")

    static let smallVocabulary = folder.appendingPathComponent("small-vocab")

    static func load<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        let url = folder.appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw FixtureError("\(url.path) is missing; run python3 scripts/fixtures/gen_tokens.py")
        }
        return try JSONDecoder().decode(T.self, from: data)
    }

    /// The real CLIP vocabulary, which is not in the repository: CLIPCAM_VOCAB_DIR or ~/.cache/clipcam/clip-vocab.
    static func realVocabulary() throws -> URL {
        let environment = ProcessInfo.processInfo.environment["CLIPCAM_VOCAB_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        let folder =
            environment.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentDirectoryUser
            .appendingPathComponent(".cache/clipcam/clip-vocab")
        for name in ["vocab.json", "merges.txt"]
        where !FileManager.default.fileExists(
            atPath: folder.appendingPathComponent(name).path)
        {
            throw FixtureError(
                "the CLIP vocabulary is missing: \(folder.path)/\(name) does not exist. Run scripts/setup "
                    + "(or scripts/fetch-vocab) to write it, or point CLIPCAM_VOCAB_DIR at a folder holding it.")
        }
        return folder
    }
}

extension FileManager {
    fileprivate var homeDirectoryForCurrentDirectoryUser: URL {
        URL(fileURLWithPath: NSHomeDirectory())
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The prompt with every scalar outside printable ASCII escaped, for failure messages.
func shown(_ text: String) -> String {
    "\"" + text.unicodeScalars.map { $0.escaped(asASCII: true) }.joined() + "\""
}
