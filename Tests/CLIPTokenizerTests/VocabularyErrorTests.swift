import Foundation
import Testing

@testable import CLIPTokenizer

/// Broken vocabulary files fail with a message naming the file (and the line or byte at fault).
@Suite final class VocabularyErrorTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("clipcam-tokenizer-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in ["vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(
                at: Fixtures.smallVocabulary.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }

    var vocabulary: URL { folder.appendingPathComponent("vocab.json") }
    var merges: URL { folder.appendingPathComponent("merges.txt") }

    func loadError() -> TokenizerError? {
        do {
            _ = try CLIPTokenizer(directory: folder)
            return nil
        } catch let error as TokenizerError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    func rewrite(_ url: URL, _ change: (String) -> String) throws {
        let text = try String(contentsOf: url, encoding: .utf8)
        try change(text).write(to: url, atomically: true, encoding: .utf8)
    }

    @Test func copiedVocabularyLoads() throws {
        #expect(loadError() == nil)
    }

    @Test func missingFileNamesTheFileAndTheScript() throws {
        try FileManager.default.removeItem(at: merges)
        let error = try #require(loadError())
        #expect(error == .missingFile(merges))
        #expect(error.description.contains(merges.path))
        #expect(error.description.contains("scripts/fetch-vocab"))
    }

    @Test func corruptVocabularyNamesTheFileAndOffset() throws {
        try Data(contentsOf: vocabulary).prefix(1000).write(to: vocabulary)  // cut off in the middle
        let error = try #require(loadError())
        guard case .invalidVocabulary(let url, let offset, _) = error else {
            Issue.record("expected invalidVocabulary, got \(error)")
            return
        }
        #expect(url == vocabulary)
        #expect(offset > 900 && offset <= 1000)
        #expect(error.description.contains(vocabulary.path))
        #expect(error.description.contains("byte \(offset)"))
    }

    @Test func nonObjectVocabularyIsRejected() throws {
        try "[1, 2, 3]".write(to: vocabulary, atomically: true, encoding: .utf8)
        let error = try #require(loadError())
        #expect(error == .invalidVocabulary(vocabulary, offset: 0, reason: "expected '{' opening the object of tokens"))
    }

    @Test func duplicateIdIsRejected() throws {
        try rewrite(vocabulary) { $0.replacingOccurrences(of: "\"#\": 2,", with: "\"#\": 1,") }
        let error = try #require(loadError())
        #expect(error.description.contains("the id 1 is given to both"))
    }

    @Test func missingSpecialTokenIsNamed() throws {
        try rewrite(vocabulary) { $0.replacingOccurrences(of: "<|endoftext|>", with: "<|end|>") }
        let error = try #require(loadError())
        #expect(error == .missingToken(vocabulary, token: "<|endoftext|>"))
        #expect(error.description.contains("\"<|endoftext|>\""))
    }

    @Test func badMergesLineNamesFileAndLine() throws {
        try rewrite(merges) { text in
            var lines = text.components(separatedBy: "\n")
            lines[5] = "th"
            return lines.joined(separator: "\n")
        }
        let error = try #require(loadError())
        let reason = "there is no space between the two symbols"
        #expect(error == .badMergesLine(merges, line: 6, text: "th", reason: reason))
        #expect(error.description.contains("\(merges.path):6"))
    }

    @Test func mergeOfUnknownSymbolNamesIt() throws {
        try rewrite(merges) { $0 + "zq xy\n" }
        let error = try #require(loadError())
        guard case .badMergesLine(let url, let line, let text, let reason) = error else {
            Issue.record("expected badMergesLine, got \(error)")
            return
        }
        #expect(url == merges)
        #expect(line == 1002)
        #expect(text == "zq xy")
        #expect(reason.contains("\"zq\" is not a token of vocab.json"))
    }

    @Test func escapedVocabularyReadsLikeUnescaped() throws {
        // The same vocabulary with every non-ASCII character written as a \u escape, as Python's json.dumps does
        // by default.
        let data = try Data(contentsOf: vocabulary)
        let object = try JSONSerialization.jsonObject(with: data)
        let escaped = try String(decoding: JSONSerialization.data(withJSONObject: object), as: UTF8.self)
            .unicodeScalars.map { $0.isASCII ? String($0) : String(format: "\\u%04x", $0.value) }.joined()
        try escaped.write(to: vocabulary, atomically: true, encoding: .utf8)
        let tokenizer = try CLIPTokenizer(directory: folder)
        let original = try CLIPTokenizer(directory: Fixtures.smallVocabulary)
        #expect(tokenizer.encode("Ünïcödé 猫 🐱 test") == original.encode("Ünïcödé 猫 🐱 test"))
        #expect(tokenizer.decode(Array(0..<1514)) == original.decode(Array(0..<1514)))
    }
}
