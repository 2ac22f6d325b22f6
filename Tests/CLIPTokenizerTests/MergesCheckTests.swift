import Foundation
import Glibc
import Testing

@testable import CLIPTokenizer

/// merges.txt must hold the merges vocab.json implies (one per token beyond the 512 byte symbols and the 2 special
/// tokens), and neither file may block the tokenizer by being a FIFO.
@Suite final class MergesCheckTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("clipcam-merges-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in ["vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(
                at: Fixtures.smallVocabulary.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }

    var merges: URL { folder.appendingPathComponent("merges.txt") }
    var vocabulary: URL { folder.appendingPathComponent("vocab.json") }

    /// The fixture's merges.txt lines (the "#version" header first, then 1000 merges), changed by `edit`.
    func rewriteMerges(_ edit: (inout [String]) -> Void) throws {
        var lines = try String(contentsOf: merges, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 1001 && lines[0].hasPrefix("#version"))
        edit(&lines)
        try (lines.map { $0 + "\n" }.joined()).write(to: merges, atomically: true, encoding: .utf8)
    }

    func message() -> String {
        do {
            _ = try CLIPTokenizer(directory: folder)
            return "loaded"
        } catch {
            return String(describing: error)
        }
    }

    @Test(arguments: [
        ("an empty file", 0, "holds no merges"),
        ("the header line alone", 1, "holds no merges"),
        ("the last merge cut off", 1000, "holds 999 merges"),
        ("half of it", 501, "holds 500 merges"),
    ])
    func aShortMergesFileIsNamedWithTheCountItNeeds(_ what: String, keep: Int, says: String) throws {
        try rewriteMerges { $0 = Array($0.prefix(keep)) }
        let text = message()
        #expect(
            text.hasPrefix("\(merges.path) \(says), but the 1514 tokens of vocab.json call for 1000"),
            "\(what): \(text)")
        #expect(text.contains("1514 − 256 byte symbols − 256 byte symbols with </w> − 2 special tokens"))
    }

    @Test func aMergeTooManyIsNamed() throws {
        try rewriteMerges { $0.append($0[1]) }
        #expect(
            message().hasPrefix("\(merges.path) holds 1001 merges, but the 1514 tokens of vocab.json call for 1000"))
    }

    /// The right count, but one token of vocab.json is made by no merge (its merge line replaced by a repeat).
    @Test func aTokenNoMergeMakesIsNamed() throws {
        var lost = ""
        try rewriteMerges { lines in
            lost = lines[1000].replacingOccurrences(of: " ", with: "")
            lines[1000] = lines[1]
        }
        let text = message()
        let shown = lost.unicodeScalars.map { $0.escaped(asASCII: false) }.joined()
        #expect(
            text.hasPrefix("\(vocabulary.path): the token \"\(shown)\" is made by no merge of merges.txt"), "\(text)")
    }

    /// A merges.txt (and vocab.json) saved with CRLF line ends loads as transformers 5.24 loads it: the tokenizers
    /// library reads merges.txt line by line, dropping "\r\n" whole, so the ids are those of the LF file (the ids
    /// below are transformers' own for this text, with both line ends).
    @Test func crlfLineEndsReadAsLF() throws {
        let text = "a photo of a cat, interstellar"
        let reference: [Int32] = [1512, 320, 1125, 539, 320, 66, 536, 267, 1006, 522, 544, 572, 337, 1513]
        let lf = try CLIPTokenizer(directory: folder).tokenize(text)
        #expect(Array(lf.ids.prefix(lf.count)) == reference)
        for file in [merges, vocabulary] {
            let bytes = try Data(contentsOf: file)
            var crlf = Data()
            for byte in bytes {
                if byte == 0x0A { crlf.append(0x0D) }
                crlf.append(byte)
            }
            try crlf.write(to: file)
        }
        #expect(message() == "loaded")
        let tokenized = try CLIPTokenizer(directory: folder).tokenize(text)
        #expect(Array(tokenized.ids.prefix(tokenized.count)) == reference)
    }

    @Test func theRealVocabularyPassesTheCheck() throws {
        let tokenizer = try CLIPTokenizer(directory: try Fixtures.realVocabulary())
        #expect(tokenizer.vocabularySize == 49408)
    }

    @Test(arguments: ["vocab.json", "merges.txt"])
    func aVocabularyFileThatIsAFIFOFailsAtOnce(name: String) throws {
        let fifo = folder.appendingPathComponent(name)
        try FileManager.default.removeItem(at: fifo)
        try #require(mkfifo(fifo.path, 0o644) == 0)
        let done = DispatchSemaphore(value: 0)
        let result = Outcome()
        Thread { [folder] in
            do {
                _ = try CLIPTokenizer(directory: folder)
                result.text = "loaded"
            } catch {
                result.text = String(describing: error)
            }
            done.signal()
        }.start()
        if done.wait(timeout: .now() + 5) == .timedOut {
            Issue.record("loading a tokenizer whose \(name) is a FIFO did not finish within 5 s")
            let writer = open(fifo.path, O_WRONLY | O_NONBLOCK)  // lets the blocked reader see the end
            if writer >= 0 { close(writer) }
            _ = done.wait(timeout: .now() + 5)
            return
        }
        #expect(
            result.text == "\(fifo.path): cannot be read (it is a FIFO (named pipe), not a regular file). "
                + "Check its permissions, or rewrite it with scripts/fetch-vocab --force.", "\(result.text ?? "")")
    }
}

/// Set by the loading thread before it signals.
private final class Outcome: @unchecked Sendable {
    var text: String?
}
