import Foundation

/// Why a vocabulary could not be loaded. Each message names the file at fault and what to do about it.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// The file does not exist.
    case missingFile(URL)
    /// The file exists but could not be read.
    case unreadableFile(URL, reason: String)
    /// vocab.json is not a JSON object of token strings to integer ids; `offset` is the byte where reading stopped.
    case invalidVocabulary(URL, offset: Int, reason: String)
    /// A token the tokenizer needs (a byte symbol or a special token) is not in vocab.json.
    case missingToken(URL, token: String)
    /// Line `line` (1-based) of merges.txt is not two vocabulary symbols separated by one space.
    case badMergesLine(URL, line: Int, text: String, reason: String)
    /// merges.txt does not hold one merge per token of vocab.json beyond the 512 byte symbols and the 2 special
    /// tokens (`found` merges, `expected` needed).
    case mergeCount(merges: URL, vocabulary: URL, found: Int, expected: Int, vocabularySize: Int)
    /// A token of vocab.json that is neither a byte symbol nor a special token is made by no merge.
    case tokenWithoutMerge(vocabulary: URL, merges: URL, token: String)

    public var description: String {
        switch self {
        case .missingFile(let url):
            return "\(url.path): no such file. Run scripts/fetch-vocab to write CLIP's vocab.json and merges.txt "
                + "(default folder ~/.cache/clipcam/clip-vocab, or set CLIPCAM_VOCAB_DIR)."
        case .unreadableFile(let url, let reason):
            return "\(url.path): cannot be read (\(reason)). Check its permissions, or rewrite it with "
                + "scripts/fetch-vocab --force."
        case .invalidVocabulary(let url, let offset, let reason):
            return "\(url.path): not a CLIP vocabulary at byte \(offset): \(reason). Expected a JSON object of "
                + "token strings to distinct ids 0..<count; rewrite it with scripts/fetch-vocab --force."
        case .missingToken(let url, let token):
            return "\(url.path): the token \(Self.quoted(token)) is missing. A CLIP vocabulary holds the 256 byte "
                + "symbols, the same with </w>, one token per merge and <|startoftext|>, <|endoftext|>; rewrite "
                + "it with scripts/fetch-vocab --force."
        case .badMergesLine(let url, let line, let text, let reason):
            return "\(url.path):\(line): bad merges line \(Self.quoted(text)): \(reason). Each line after "
                + "\"#version\" is two vocabulary symbols separated by one space; rewrite the file with "
                + "scripts/fetch-vocab --force."
        case .mergeCount(let merges, let vocabulary, let found, let expected, let size):
            return Self.describeMergeCount(
                merges: merges, vocabulary: vocabulary, found: found, expected: expected, size: size)
        case .tokenWithoutMerge(let vocabulary, let merges, let token):
            return "\(vocabulary.path): the token \(Self.quoted(token)) is made by no merge of "
                + "\(merges.lastPathComponent); every token but the byte symbols and the special tokens must be. "
                + "The two files belong to different vocabularies; copy them together from the model's repository, "
                + "or rewrite them with scripts/fetch-vocab --force."
        }
    }

    static func describeMergeCount(merges: URL, vocabulary: URL, found: Int, expected: Int, size: Int) -> String {
        let what = found == 0 ? "no merges" : found == 1 ? "1 merge" : "\(found) merges"
        return "\(merges.path) holds \(what), but the \(size) tokens of \(vocabulary.lastPathComponent) call for "
            + "\(expected): \(size) − 256 byte symbols − 256 byte symbols with </w> − 2 special tokens, each other "
            + "token being made by one merge. The file is empty, cut short or belongs to another vocabulary; copy "
            + "merges.txt and vocab.json together from the model's repository, or rewrite them with "
            + "scripts/fetch-vocab --force."
    }

    private static func quoted(_ text: String) -> String {
        let shown = text.count > 60 ? String(text.prefix(60)) + "…" : text
        return "\"" + shown.unicodeScalars.map { $0.escaped(asASCII: false) }.joined() + "\""
    }
}
