import Foundation
import Testing

@testable import CLIPTokenizer

@Suite struct TokenizerBehaviourTests {
    let tokenizer: CLIPTokenizer

    init() throws {
        tokenizer = try CLIPTokenizer(directory: Fixtures.smallVocabulary)
    }

    static let longPrompt = Array(repeating: "a photo of a small dog", count: 20).joined(separator: " and ")

    @Test func longTextIsTruncatedWithEndTokenLast() throws {
        let encoded = tokenizer.encode(Self.longPrompt)
        try #require(encoded.count > 75)
        let tokens = tokenizer.tokenize(Self.longPrompt)
        #expect(tokens.truncated)
        #expect(tokens.count == 77)
        #expect(tokens.endIndex == 76)
        #expect(tokens.ids.count == 77)
        #expect(tokens.ids[0] == tokenizer.startToken)
        #expect(tokens.ids[76] == tokenizer.endToken)
        #expect(Array(tokens.ids[1..<76]) == Array(encoded[..<75]))
    }

    @Test func exactFitIsNotTruncated() {
        let encoded = tokenizer.encode(Self.longPrompt)
        let tokens = tokenizer.tokenize(Self.longPrompt, contextLength: encoded.count + 2)
        #expect(!tokens.truncated)
        #expect(tokens.ids == [tokenizer.startToken] + encoded + [tokenizer.endToken])
        let shorter = tokenizer.tokenize(Self.longPrompt, contextLength: encoded.count + 1)
        #expect(shorter.truncated)
        #expect(shorter.ids.last == tokenizer.endToken)
        #expect(Array(shorter.ids.dropLast()) == [tokenizer.startToken] + Array(encoded.dropLast()))
    }

    @Test func shortTextIsPaddedWithZeros() {
        let tokens = tokenizer.tokenize("a photo of a cat", contextLength: 16)
        let encoded = tokenizer.encode("a photo of a cat")
        #expect(tokens.count == encoded.count + 2)
        #expect(tokens.endIndex == encoded.count + 1)
        #expect(!tokens.truncated)
        #expect(tokens.ids.count == 16)
        #expect(Array(tokens.ids[..<tokens.count]) == [tokenizer.startToken] + encoded + [tokenizer.endToken])
        #expect(tokens.ids[tokens.count...].allSatisfy { $0 == 0 })
    }

    @Test func emptyTextIsStartAndEnd() {
        let tokens = tokenizer.tokenize(" \t\n ")
        #expect(tokens.count == 2)
        #expect(tokens.endIndex == 1)
        #expect(Array(tokens.ids.prefix(2)) == [tokenizer.startToken, tokenizer.endToken])
    }

    @Test(arguments: [
        "a photo of a cat", "the quick brown fox jumps over the lazy dog", "café, naïve: 100% über-cool!",
        "猫 🐱 고양이", "it's a dog's life",
    ])
    func decodeRoundTrip(text: String) throws {
        let real = try CLIPTokenizer(directory: Fixtures.realVocabulary())
        for tokenizer in [tokenizer, real] {
            let decoded = tokenizer.decode(tokenizer.encode(text))
            // Each word ends with a space; words are split at punctuation and between scripts.
            let words = CLIPTokenizer.normalize(text).split(separator: " ")
            #expect(decoded.split(separator: " ").joined() == words.joined())
            #expect(tokenizer.encode(decoded) == tokenizer.encode(text))
        }
    }

    @Test func decodeShowsSpecialAndUnknownIds() {
        #expect(tokenizer.decode([tokenizer.startToken, tokenizer.endToken]) == "<|startoftext|><|endoftext|>")
        #expect(tokenizer.decode([-1, 1_000_000]) == "\u{FFFD}\u{FFFD}")
    }

    @Test func normalizeCleansLikeTheReference() {
        let text = "  Fish &amp;amp; Chips\u{00A0}ＡＢＣ ﬁne “quoted”\r\n"
        #expect(CLIPTokenizer.normalize(text) == "fish & chips abc fine \"quoted\"")
        #expect(CLIPTokenizer.normalize("cafe\u{301}").unicodeScalars.elementsEqual("caf\u{E9}".unicodeScalars))
    }

    @Test func concurrentUseGivesTheSameIds() async throws {
        let tokenizer = try CLIPTokenizer(directory: Fixtures.smallVocabulary)
        let prompts = (0..<200).map { "prompt number \($0) of a \(["cat", "dog", "bird", "über"][$0 % 4])" }
        let expected = prompts.map { tokenizer.encode($0) }
        let fresh = try CLIPTokenizer(directory: Fixtures.smallVocabulary)
        let results = await withTaskGroup(of: (Int, [Int32]).self) { group in
            for (index, prompt) in prompts.enumerated() {
                group.addTask { (index, fresh.encode(prompt)) }
            }
            var results = [[Int32]](repeating: [], count: prompts.count)
            for await (index, ids) in group { results[index] = ids }
            return results
        }
        #expect(results == expected)
    }
}
