import Foundation
import Testing

@testable import CLIPTokenizer

/// Every fixture prompt must give the reference's ids, untruncated encoding and decoded text.
@Suite struct ReferenceTokenTests {
    func check(_ tokenizer: CLIPTokenizer, against fixture: String) throws {
        let cases = try Fixtures.load([TokenCase].self, fixture)
        try #require(cases.count >= 60, "\(fixture) holds only \(cases.count) prompts")
        var mismatches = 0
        var mojibakeCases = 0
        for item in cases {
            let tokens = tokenizer.tokenize(item.text)
            let ids = Array(tokens.ids[..<tokens.count])
            #expect(tokens.ids.count == 77 && tokens.ids[tokens.count...].allSatisfy { $0 == 0 })
            if let expected = item.idsWithoutMojibakeRepair {
                // ftfy would repair this prompt as mojibake; clipcam leaves that one step out.
                mojibakeCases += 1
                #expect(ids == expected, "\(fixture): \(shown(item.text)) (a mojibake prompt)")
                #expect(ids != item.ids)
                continue
            }
            let encoded = tokenizer.encode(item.text)
            if ids == item.ids && encoded == item.encoded {
                #expect(tokenizer.decode(encoded) == item.decoded, "decode of \(shown(item.text))")
                continue
            }
            mismatches += 1
            Issue.record(
                """
                \(fixture): \(shown(item.text))
                  normalized: \(shown(CLIPTokenizer.normalize(item.text)))
                  ids:       \(ids)
                  reference: \(item.ids)
                """)
        }
        #expect(mismatches == 0, "\(mismatches) of \(cases.count) prompts differ from the reference")
        #expect(mojibakeCases < cases.count / 10, "the fixture should hold few mojibake prompts")
    }

    @Test func realVocabularyMatchesReference() throws {
        let tokenizer = try CLIPTokenizer(directory: Fixtures.realVocabulary())
        #expect(tokenizer.vocabularySize == 49408)
        #expect(tokenizer.startToken == 49406)
        #expect(tokenizer.endToken == 49407)
        try check(tokenizer, against: "clip-vocab.json")
    }

    @Test func smallVocabularyMatchesReference() throws {
        let tokenizer = try CLIPTokenizer(directory: Fixtures.smallVocabulary)
        #expect(tokenizer.vocabularySize == 512 + 1000 + 2)
        #expect(tokenizer.startToken == 1512)
        #expect(tokenizer.endToken == 1513)
        try check(tokenizer, against: "small-vocab.json")
    }
}
