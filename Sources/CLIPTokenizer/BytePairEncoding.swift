// Byte-level BPE as in openai/CLIP clip/simple_tokenizer.py (`bytes_to_unicode`, `SimpleTokenizer.bpe`): every
// UTF-8 byte of a pre-tokenized word becomes one printable symbol, the last symbol carries the "</w>" word end,
// and the lowest-ranked adjacent pair is merged everywhere (left to right, without overlap) until no ranked pair
// is left. Symbols are kept as vocabulary ids and merges as an (id, id) → (rank, merged id) table, which gives the
// same result as the reference's string pairs because vocab.json maps strings to ids one to one. Where merges.txt
// lists a pair twice, the later rank wins, as with the reference's dict.
import Foundation

/// GPT-2/CLIP's byte alphabet: printable Latin-1 bytes stand for themselves, the other 68 bytes for U+0100...U+0143,
/// numbered in order of the bytes.
enum ByteAlphabet {
    static let scalars: [Unicode.Scalar] = {
        func printable(_ byte: Int) -> Bool {
            (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
        }
        var next: UInt32 = 0x100
        return (0..<256).map { byte in
            if printable(byte) { return Unicode.Scalar(UInt8(byte)) }
            defer { next += 1 }
            return Unicode.Scalar(next)!
        }
    }()

    /// The byte a symbol stands for, indexed by the symbol's scalar value (-1: not a symbol).
    static let bytes: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (byte, scalar) in scalars.enumerated() { table[Int(scalar.value)] = Int16(byte) }
        return table
    }()

    static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let value = Int(scalar.value)
        guard value < bytes.count, bytes[value] >= 0 else { return nil }
        return UInt8(bytes[value])
    }
}

/// The loaded vocabulary: how bytes start as symbols, which pairs merge, and each id's bytes for decoding.
struct BytePairModel: Sendable {
    /// Id of the symbol for each byte, and of the same symbol with "</w>" (the last byte of a word).
    let byteSymbols: [Int32]
    let wordEndSymbols: [Int32]
    /// (left id << 32 | right id) → (rank << 32 | merged id).
    let merges: [UInt64: UInt64]
    let startToken: Int32
    let endToken: Int32
    /// The bytes each id stands for ("</w>" included), concatenated; id i spans decodeOffsets[i]..<[i + 1].
    let decodeBytes: [UInt8]
    let decodeOffsets: [Int32]

    static let startText = "<|startoftext|>"
    static let endText = "<|endoftext|>"

    var vocabularySize: Int { decodeOffsets.count - 1 }

    init(vocabulary: URL, merges mergesURL: URL) throws {
        let entries = try VocabularyFile.parseVocabulary(VocabularyFile.contents(of: vocabulary), url: vocabulary)
        let mergesBytes = try VocabularyFile.contents(of: mergesURL)

        // Ids must number the tokens 0..<count, each once, so that every id decodes.
        var ids = TokenTable(capacity: entries.count)
        var tokenOfID = [Int](repeating: -1, count: entries.count)
        for (index, entry) in entries.enumerated() {
            func fail(_ reason: String) -> TokenizerError {
                .invalidVocabulary(vocabulary, offset: entry.offset, reason: reason)
            }
            let token = String(decoding: entry.token, as: UTF8.self)
            guard Int(entry.id) < entries.count else {
                throw fail("the id \(entry.id) of \"\(token)\" is not below the token count \(entries.count)")
            }
            guard tokenOfID[Int(entry.id)] < 0 else {
                let other = String(decoding: entries[tokenOfID[Int(entry.id)]].token, as: UTF8.self)
                throw fail("the id \(entry.id) is given to both \"\(other)\" and \"\(token)\"")
            }
            tokenOfID[Int(entry.id)] = index
            guard ids.insert(entry.token, value: entry.id) else {
                throw fail("the token \"\(token)\" appears twice")
            }
        }

        var decodeBytes: [UInt8] = []
        decodeBytes.reserveCapacity(entries.count * 6)
        var decodeOffsets: [Int32] = [0]
        decodeOffsets.reserveCapacity(entries.count + 1)
        for index in tokenOfID {
            let entry = entries[index]
            try Self.appendSymbolBytes(of: entry.token, to: &decodeBytes) { reason in
                .invalidVocabulary(vocabulary, offset: entry.offset, reason: reason)
            }
            decodeOffsets.append(Int32(decodeBytes.count))
        }

        func id(of text: String) throws -> Int32 {
            guard let id = ids.value(Array(text.utf8)) else {
                throw TokenizerError.missingToken(vocabulary, token: text)
            }
            return id
        }
        byteSymbols = try ByteAlphabet.scalars.map { try id(of: String($0)) }
        wordEndSymbols = try ByteAlphabet.scalars.map { try id(of: String($0) + "</w>") }
        startToken = try id(of: Self.startText)
        endToken = try id(of: Self.endText)

        var merges: [UInt64: UInt64] = [:]
        merges.reserveCapacity(entries.count)
        var rank: UInt64 = 0
        try VocabularyFile.forEachMerge(in: mergesBytes, url: mergesURL) { lineNumber, left, right in
            let nothing = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
            func lookUp(_ first: UnsafeBufferPointer<UInt8>, _ second: UnsafeBufferPointer<UInt8>) throws -> Int32 {
                guard let id = ids.value(first, second) else {
                    let text = String(decoding: Array(first) + Array(second), as: UTF8.self)
                    let line = String(decoding: Array(left) + [0x20] + Array(right), as: UTF8.self)
                    throw TokenizerError.badMergesLine(
                        mergesURL, line: lineNumber, text: line,
                        reason: "\"\(text)\" is not a token of \(vocabulary.lastPathComponent)")
                }
                return id
            }
            let leftID = try lookUp(left, nothing)
            let rightID = try lookUp(right, nothing)
            let mergedID = try lookUp(left, right)
            merges[UInt64(UInt32(leftID)) << 32 | UInt64(UInt32(rightID))] = rank << 32 | UInt64(UInt32(mergedID))
            rank += 1
        }
        try Self.checkMergesMakeTheVocabulary(
            entries: entries, mergeCount: Int(rank), mergedIDs: merges.values.map { Int32(truncatingIfNeeded: $0) },
            fixed: byteSymbols + wordEndSymbols + [startToken, endToken], vocabulary: vocabulary, mergesURL: mergesURL)
        self.merges = merges
        self.decodeBytes = decodeBytes
        self.decodeOffsets = decodeOffsets
    }

    /// Checks the relation between the two files that CLIP's vocabulary is built by (openai's
    /// `SimpleTokenizer.__init__`): the 256 byte symbols, the same with "</w>", one token per merge, then the two
    /// special tokens. So merges.txt must hold exactly `count − 514` merges, and every token of vocab.json but the
    /// `fixed` ones must be the result of one; an empty or cut-short merges.txt, which would silently change every
    /// text embedding, fails here.
    private static func checkMergesMakeTheVocabulary(
        entries: [VocabularyEntry], mergeCount: Int, mergedIDs: [Int32], fixed: [Int32],
        vocabulary: URL, mergesURL: URL
    ) throws {
        let expected = entries.count - 2 * 256 - 2
        guard mergeCount == expected else {
            throw TokenizerError.mergeCount(
                merges: mergesURL, vocabulary: vocabulary, found: mergeCount, expected: expected,
                vocabularySize: entries.count)
        }
        var made = [Bool](repeating: false, count: entries.count)
        for id in fixed + mergedIDs { made[Int(id)] = true }
        if let entry = entries.first(where: { !made[Int($0.id)] }) {
            throw TokenizerError.tokenWithoutMerge(
                vocabulary: vocabulary, merges: mergesURL, token: String(decoding: entry.token, as: UTF8.self))
        }
    }

    /// Appends the bytes the symbols of `token` (UTF-8) stand for.
    private static func appendSymbolBytes(
        of token: [UInt8], to bytes: inout [UInt8], _ fail: (String) -> TokenizerError
    ) throws {
        var index = 0
        while index < token.count {
            // Byte symbols are U+0021...U+0143: one or two UTF-8 bytes.
            let lead = token[index]
            var scalar = UInt32(lead)
            var length = 1
            if lead >= 0x80 {
                guard (0xC2...0xDF).contains(lead), index + 1 < token.count, token[index + 1] & 0xC0 == 0x80 else {
                    let text = String(decoding: token, as: UTF8.self)
                    throw fail("the token \"\(text)\" holds a character that is not one of CLIP's 256 byte symbols")
                }
                scalar = UInt32(lead & 0x1F) << 6 | UInt32(token[index + 1] & 0x3F)
                length = 2
            }
            guard let byte = Unicode.Scalar(scalar).flatMap(ByteAlphabet.byte(for:)) else {
                let text = String(decoding: token, as: UTF8.self)
                let name = "U+" + String(scalar, radix: 16, uppercase: true)
                throw fail("the token \"\(text)\" holds \(name), which is not one of CLIP's 256 byte symbols")
            }
            bytes.append(byte)
            index += length
        }
    }

    /// The ids of one pre-tokenized word, given as its UTF-8 bytes (not empty).
    func encodeWord(_ bytes: some Collection<UInt8>) -> [Int32] {
        precondition(!bytes.isEmpty, "a pre-tokenized word has at least one byte")
        var word: [Int32] = []
        word.reserveCapacity(bytes.count)
        for byte in bytes { word.append(byteSymbols[Int(byte)]) }
        word[word.count - 1] = wordEndSymbols[Int(bytes[bytes.index(bytes.startIndex, offsetBy: bytes.count - 1)])]

        while word.count > 1 {
            var best = UInt64.max
            var left: Int32 = 0
            var right: Int32 = 0
            for index in 0..<(word.count - 1) {
                let pair = UInt64(UInt32(word[index])) << 32 | UInt64(UInt32(word[index + 1]))
                if let merge = merges[pair], merge < best {
                    best = merge
                    left = word[index]
                    right = word[index + 1]
                }
            }
            if best == .max { break }
            let merged = Int32(truncatingIfNeeded: best)
            var read = 0
            var write = 0
            while read < word.count {
                if read + 1 < word.count && word[read] == left && word[read + 1] == right {
                    word[write] = merged
                    read += 2
                } else {
                    word[write] = word[read]
                    read += 1
                }
                write += 1
            }
            word.removeLast(word.count - write)
        }
        return word
    }

    /// The bytes of `ids` with "</w>" turned into a space, read as UTF-8 (ill-formed bytes become U+FFFD);
    /// an id outside the vocabulary shows as U+FFFD.
    func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        for id in ids {
            guard id >= 0 && Int(id) < vocabularySize else {
                bytes.append(contentsOf: [0xEF, 0xBF, 0xBD])
                continue
            }
            bytes.append(contentsOf: decodeBytes[Int(decodeOffsets[Int(id)])..<Int(decodeOffsets[Int(id) + 1])])
        }
        // "</w>" is ASCII, and an ASCII byte is never part of an ill-formed sequence, so replacing it before
        // decoding gives the same text as the reference's replacing after.
        let wordEnd = Array("</w>".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == wordEnd[0] && bytes[index...].starts(with: wordEnd) {
                text.append(0x20)
                index += wordEnd.count
            } else {
                text.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// Words already encoded, shared by all threads using one tokenizer. Cleared when it grows past `capacity`.
final class WordCache: @unchecked Sendable {
    private let lock = NSLock()
    private var words: [[UInt8]: [Int32]] = [:]
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    func ids(for word: [UInt8], orEncode encode: ([UInt8]) -> [Int32]) -> [Int32] {
        if let ids = lock.withLock({ words[word] }) { return ids }
        let ids = encode(word)
        lock.withLock {
            if words.count >= capacity { words.removeAll(keepingCapacity: true) }
            words[word] = ids
        }
        return ids
    }
}
