import Foundation
import Testing

@testable import CLIPTokenizer

/// The character data the tokenizer relies on, checked for every code point against Python 3.11 and the `regex`
/// module (Tests/Fixtures/tokens/unicode-reference.json, from scripts/fixtures/gen_tokens.py).
@Suite struct UnicodeReferenceTests {
    struct Reference: Decodable {
        var python: String
        var lower: [String: [UInt32]]
        var isspace: [[UInt32]]
        var letter: [[UInt32]]
        var number: [[UInt32]]
        var space: [[UInt32]]
        var other: [[UInt32]]
        var sigma: [String: [[UInt32]]]
    }

    static func contains(_ ranges: [[UInt32]], _ value: UInt32) -> Bool {
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle][1] < value { low = middle + 1 } else { high = middle }
        }
        return low < ranges.count && ranges[low][0] <= value
    }

    static var allScalars: some Sequence<Unicode.Scalar> {
        (UInt32(0)...0x10FFFF).lazy.compactMap(Unicode.Scalar.init)
    }

    @Test func wordPatternClassesMatchTheRegexModule() throws {
        let reference = try Fixtures.load(Reference.self, "unicode-reference.json")
        var differences: [String] = []
        for scalar in Self.allScalars {
            let value = scalar.value
            let expected: PreTokenizer.ScalarClass
            if Self.contains(reference.letter, value) {
                expected = .letter
            } else if Self.contains(reference.number, value) {
                expected = .number
            } else if Self.contains(reference.other, value) {
                expected = .other
            } else {
                expected = .skipped  // \s, and U+0345, which no class matches
            }
            let actual = PreTokenizer.classify(scalar)
            if actual != expected { differences.append("U+\(String(value, radix: 16)): \(actual), not \(expected)") }
        }
        #expect(differences.isEmpty, "\(differences.count) differ: \(differences.prefix(20))")
        #expect(reference.space.reduce(0) { $0 + Int($1[1] - $1[0] + 1) } == 25, "\\s is Unicode's White_Space")
    }

    @Test func whitespaceMatchesPythonIsspace() throws {
        let reference = try Fixtures.load(Reference.self, "unicode-reference.json")
        let differences = Self.allScalars.filter {
            PythonText.isSpace($0) != Self.contains(reference.isspace, $0.value)
        }
        #expect(differences.isEmpty, "differ: \(differences.map { String($0.value, radix: 16) })")
    }

    @Test func lowercaseMatchesPythonLower() throws {
        let reference = try Fixtures.load(Reference.self, "unicode-reference.json")
        #expect(reference.python.hasPrefix("3.11."), "the reference data is from Python \(reference.python)")
        var differences: [String] = []
        for scalar in Self.allScalars {
            let expected = reference.lower[String(scalar.value, radix: 16, uppercase: true)] ?? [scalar.value]
            let actual = PythonText.lowercased([scalar]).map(\.value)
            if actual != expected { differences.append("U+\(String(scalar.value, radix: 16)): \(actual) \(expected)") }
        }
        #expect(differences.isEmpty, "\(differences.count) differ: \(differences.prefix(20))")
    }

    @Test func finalSigmaCasingMatchesPython() throws {
        let reference = try Fixtures.load(Reference.self, "unicode-reference.json")
        let cased = try #require(reference.sigma["cased"])
        let ignorable = try #require(reference.sigma["ignorable"])
        var differences: [String] = []
        for scalar in Self.allScalars {
            let expected: PythonText.Casing =
                Self.contains(cased, scalar.value)
                ? .cased : Self.contains(ignorable, scalar.value) ? .ignorable : .neither
            let actual = PythonText.casing(scalar)
            if actual != expected { differences.append("U+\(String(scalar.value, radix: 16)): \(actual)") }
        }
        #expect(differences.isEmpty, "\(differences.count) differ: \(differences.prefix(20))")
    }

    @Test func finalSigmaFollowsPython() {
        func lower(_ text: String) -> String {
            String(String.UnicodeScalarView(PythonText.lowercased(Array(text.unicodeScalars))))
        }
        // Python: "ΟΔΟΣ ΣΑΣ Σ ΣΣ".lower() == "οδος σας σ σς"; "Σ" alone and "AΣB" keep σ; "A.Σ." ends in ς.
        #expect(lower("ΟΔΟΣ ΣΑΣ Σ ΣΣ") == "οδος σας σ σς")
        #expect(lower("Σ") == "σ")
        #expect(lower("AΣB") == "aσb")
        #expect(lower("A'Σ'") == "a'ς'")
    }
}
