import CLIPModel
import Classifier
import Foundation
import ScoreScale
import Testing

@testable import ClipCamKit

@Test(arguments: [
    (Float(0.15), Float(0)), (0.40, 100), (0.275, 50), (0.0, 0), (-0.3, 0), (0.9, 100), (0.2, 20),
])
func heuristicRangeScalesAndClamps(cosine: Float, percent: Float) {
    #expect(abs(ScoreRange.heuristic.percent(cosine) - percent) < 1e-4)
}

@Test func customRangeScales() {
    let range = ScoreRange(low: 0.2, high: 0.3)
    #expect(abs(range.percent(0.25) - 50) < 1e-4)
    #expect(range.percent(0.35) == 100)
    // The text outputs and the window agree, a cosine that is not a number included.
    for cosine: Float in [-1, 0.19, 0.2, 0.2345, 0.3, 0.31, .nan, .infinity] {
        #expect(range.percent(cosine) == Float(scaledPercent(cosine: cosine, range: 0.2...0.3)), "\(cosine)")
    }
    #expect(range.percent(.nan) == 0)
}

@Test func probabilitiesAreSoftmaxOfScaledCosines() {
    let cosines: [Float] = [0.31, 0.25, 0.30]
    let p = Scoring.probabilities(cosines: cosines, logitScale: log(100))
    let e = cosines.map { exp(Double($0) * 100) }
    let total = e.reduce(0, +)
    for i in 0..<3 { #expect(abs(Double(p[i]) - e[i] / total) < 1e-6) }
    #expect(abs(p.reduce(0, +) - 1) < 1e-6)
    // Large scaled cosines must not overflow.
    let big = Scoring.probabilities(cosines: [9, 8], logitScale: 6)
    #expect(big.allSatisfy { $0.isFinite })
    #expect(big[0] > 0.99)
}

@Test func normalisationAndCosine() {
    let v = Scoring.l2Normalized([3, 4])
    #expect(v == [0.6, 0.8])
    #expect(abs(Scoring.cosine([1, 0], [1, 1]) - Float(0.5).squareRoot()) < 1e-6)
    #expect(Scoring.l2Normalized([0, 0]) == [0, 0])
}

@Test func promptFileIgnoresCommentsBlankLinesAndBOM() {
    let text = "\u{FEFF}# a comment\n\na photo of a cat  \r\n   # indented comment\n\tcafé au lait\n\n"
    #expect(PromptFile.parse(text) == ["a photo of a cat", "café au lait"])
}

@Test func promptFileErrorsNameTheFile() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clipcam-prompts-\(UUID())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }

    let empty = dir.appendingPathComponent("empty.txt")
    try Data("# only a comment\n\n".utf8).write(to: empty)
    #expect(throws: PromptFileError.self) { try PromptFile.load(empty.path) }
    do {
        _ = try PromptFile.load(empty.path)
    } catch {
        #expect("\(error)".contains(empty.path) && "\(error)".contains("no prompts"))
    }

    let latin1 = dir.appendingPathComponent("latin1.txt")
    try Data("ok\ncaf\u{E9}\n".utf8 + [0x63, 0x61, 0x66, 0xE9, 0x0A]).write(to: latin1)
    do {
        _ = try PromptFile.load(latin1.path)
        Issue.record("a Latin-1 file was accepted")
    } catch {
        #expect("\(error)".contains("not UTF-8 text (line 3)"))
    }

    do {
        _ = try PromptFile.load(dir.appendingPathComponent("nothing.txt").path)
        Issue.record("a missing file was accepted")
    } catch {
        #expect("\(error)".contains("nothing.txt"))
    }
}

@Test func namedPromptSetsAreFoundInTheRepository() throws {
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let previous = FileManager.default.currentDirectoryPath
    FileManager.default.changeCurrentDirectoryPath(repo.path)
    defer { FileManager.default.changeCurrentDirectoryPath(previous) }
    let person = try PromptFile.load("person")
    #expect(person == ["a photo of a person", "a photo of an empty room"])
    do {
        _ = try PromptFile.load("no-such-set")
        Issue.record("an unknown set was accepted")
    } catch {
        #expect("\(error)".contains("desk") && "\(error)".contains("everyday-objects"))
    }
}

/// The release build's CPU check reads the `flags` line of /proc/cpuinfo: a CPU without AVX2 is refused, naming
/// what it lacks; one with them, or a text without a flags line, passes.
@Test func cpuCheckNamesMissingExtensions() throws {
    let withAll = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n"
    let without = "processor\t: 0\nflags\t\t: fpu sse2 avx\n"
    #expect(CPUFlags.parse(cpuinfo: withAll) == ["fpu", "sse2", "avx", "avx2", "fma"])
    #expect(CPUFlags.parse(cpuinfo: "processor\t: 0\n") == nil)
    try CPUCheck.verify(cpuinfo: withAll)
    try CPUCheck.verify(cpuinfo: "processor\t: 0\n")
    if CPUCheck.required.isEmpty { return }
    do {
        try CPUCheck.verify(cpuinfo: without)
        Issue.record("a CPU without AVX2 and FMA passed the check")
    } catch let error as CPUSupportError {
        #expect(error.missing == ["avx2", "fma"])
    }
}
