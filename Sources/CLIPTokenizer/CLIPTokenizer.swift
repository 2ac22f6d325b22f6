// CLIP's BPE tokenizer, following openai/CLIP clip/simple_tokenizer.py (`SimpleTokenizer.encode`, and `tokenize`
// in clip/clip.py with truncate=True): clean the text (ftfy.fix_text, html.unescape twice, strip), collapse
// whitespace, lowercase, split into words with CLIP's pattern, byte-level BPE each word, then
// <|startoftext|> + tokens + <|endoftext|> padded with 0 to the context length; a longer text is cut and its last
// token replaced by <|endoftext|>. A literal "<|startoftext|>" or "<|endoftext|>" in the text becomes the special
// token, as in openai's code. Deviations are those of TextFixer (no mojibake repair) and PythonText.
import Foundation

/// Token ids ready for CLIP's text encoder.
public struct TokenizedText: Sendable, Equatable {
    /// <|startoftext|>, the text's tokens, <|endoftext|>, then 0 up to the context length.
    public var ids: [Int32]
    /// The length without padding, start and end tokens included.
    public var count: Int
    /// Whether the text had more tokens than fit; the end token is then still the last one.
    public var truncated: Bool
    /// Where the end token is: the position CLIP's text encoder pools at.
    public var endIndex: Int { count - 1 }

    public init(ids: [Int32], count: Int, truncated: Bool) {
        self.ids = ids
        self.count = count
        self.truncated = truncated
    }
}

public final class CLIPTokenizer: Sendable {
    public let startToken: Int32
    public let endToken: Int32
    private let model: BytePairModel
    private let cache = WordCache(capacity: 16_384)

    /// Loads a Hugging Face style vocab.json and merges.txt (as scripts/fetch-vocab writes them).
    public init(vocabulary: URL, merges: URL) throws {
        model = try BytePairModel(vocabulary: vocabulary, merges: merges)
        startToken = model.startToken
        endToken = model.endToken
    }

    /// Loads `vocab.json` and `merges.txt` from `directory`.
    public convenience init(directory: URL) throws {
        try self.init(
            vocabulary: directory.appendingPathComponent("vocab.json"),
            merges: directory.appendingPathComponent("merges.txt"))
    }

    /// The number of tokens in the vocabulary, special tokens included.
    public var vocabularySize: Int { model.vocabularySize }

    /// The text exactly as the tokenizer reads it: fixed, unescaped, whitespace collapsed and lowercased.
    public static func normalize(_ text: String) -> String {
        String(String.UnicodeScalarView(normalizedScalars(text)))
    }

    static func normalizedScalars(_ text: String) -> [Unicode.Scalar] {
        var scalars = TextFixer.fixText(Array(text.unicodeScalars))
        scalars = HTMLUnescape.pythonUnescape(HTMLUnescape.pythonUnescape(scalars))
        return PythonText.lowercased(PythonText.collapseWhitespace(scalars))
    }

    /// The BPE ids of `text`, without start and end tokens and without truncation.
    public func encode(_ text: String) -> [Int32] {
        let scalars = Self.normalizedScalars(text)
        var ids: [Int32] = []
        var word: [UInt8] = []
        for range in PreTokenizer.split(scalars) {
            word.removeAll(keepingCapacity: true)
            for scalar in scalars[range] { UTF8.encode(scalar) { word.append($0) } }
            if word.elementsEqual(BytePairModel.startText.utf8) {
                ids.append(startToken)
            } else if word.elementsEqual(BytePairModel.endText.utf8) {
                ids.append(endToken)
            } else {
                ids.append(contentsOf: cache.ids(for: word) { model.encodeWord($0) })
            }
        }
        return ids
    }

    /// Start token, the ids of `text` and end token, padded with 0 to `contextLength`; a text too long to fit is cut
    /// and keeps the end token last.
    public func tokenize(_ text: String, contextLength: Int = 77) -> TokenizedText {
        precondition(contextLength >= 2, "the context must hold at least the start and end tokens")
        var ids = [startToken] + encode(text) + [endToken]
        let truncated = ids.count > contextLength
        if truncated {
            ids.removeLast(ids.count - contextLength)
            ids[contextLength - 1] = endToken
        }
        let count = ids.count
        ids.append(contentsOf: repeatElement(0, count: contextLength - count))
        return TokenizedText(ids: ids, count: count, truncated: truncated)
    }

    /// The text `ids` stand for, each word followed by a space (for display; ids outside the vocabulary show as
    /// U+FFFD).
    public func decode(_ ids: [Int32]) -> String {
        model.decode(ids)
    }
}
