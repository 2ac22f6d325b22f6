import Foundation
import Testing

@testable import CLIPModel

/// Encoder speed on a random ViT-B/32 (prints; no timing assertion). Opt-in because it writes a 600 MB model:
///
///     CLIPCAM_BENCHMARK=1 swift test -c release -Xswiftc -enable-testing --filter BenchmarkTests
///
/// Set CLIPCAM_BENCHMARK_DIR to a folder to keep the random models there between runs.
@Suite(.serialized) struct BenchmarkTests {
    static let enabled = ProcessInfo.processInfo.environment["CLIPCAM_BENCHMARK"] != nil

    private func milliseconds(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }

    private func summary(_ times: [Double]) -> String {
        let sorted = times.sorted()
        return String(
            format: "median %.1f ms, min %.1f ms, max %.1f ms over %d runs", sorted[sorted.count / 2],
            sorted[0], sorted[sorted.count - 1], sorted.count)
    }

    private func randomModel(_ shape: RandomModel.Shape) throws -> (URL, TemporaryFolder?) {
        let vocabulary = Fixtures.model("tiny-quickgelu-f32")
        if let kept = ProcessInfo.processInfo.environment["CLIPCAM_BENCHMARK_DIR"] {
            let url = URL(fileURLWithPath: kept).appendingPathComponent("random-\(shape.rawValue)")
            if !FileManager.default.fileExists(atPath: url.path) {
                try RandomModel.write(shape: shape, seed: 1, to: url, vocabulary: vocabulary)
            }
            return (url, nil)
        }
        let folder = try TemporaryFolder()
        let url = folder.file("random-\(shape.rawValue)")
        try RandomModel.write(shape: shape, seed: 1, to: url, vocabulary: vocabulary)
        return (url, folder)
    }

    @Test(
        .enabled(if: enabled, "set CLIPCAM_BENCHMARK=1 to measure (writes a random ViT-B/32 model)"),
        arguments: [RandomModel.Shape.vitB32, .vitB16])
    func encoderSpeed(shape: RandomModel.Shape) throws {
        let (url, keep) = try randomModel(shape)
        defer { withExtendedLifetime(keep) {} }
        var model: CLIPModel?
        let loadTime = milliseconds { model = try? CLIPModel(directory: url) }
        let clip = try #require(model)
        let side = clip.imageSize
        let pixels: [Float] = (0..<(3 * side * side)).map { (index: Int) -> Float in Float(index % 97) / 48 - 1 }
        var embedding = [Float](repeating: 0, count: clip.embeddingSize)
        let runs = shape == .vitB32 ? 20 : 6
        var imageTimes: [Double] = []
        pixels.withUnsafeBufferPointer { input in
            embedding.withUnsafeMutableBufferPointer { output in
                for run in 0..<(runs + 2) {
                    let time = milliseconds { clip.encodeImage(pixels: input.baseAddress!, into: output.baseAddress!) }
                    if run >= 2 { imageTimes.append(time) }
                }
            }
        }
        let shortPrompt: [Int32] = [1512, 320, 1125, 539, 320, 66, 536, 1513]
        let fullPrompt = [Int32(1512)] + (0..<75).map { Int32(300 + $0) } + [1513]
        var shortTimes: [Double] = []
        var fullTimes: [Double] = []
        for _ in 0..<10 {
            shortTimes.append(milliseconds { _ = clip.encodeText(ids: shortPrompt) })
            fullTimes.append(milliseconds { _ = clip.encodeText(ids: fullPrompt) })
        }
        print(
            """
            benchmark \(shape.rawValue) (OpenBLAS threads: \
            \(ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] ?? "default")):
              load \(String(format: "%.0f", loadTime)) ms
              encodeImage: \(summary(imageTimes))
              encodeText 8 tokens: \(summary(shortTimes))
              encodeText 77 tokens: \(summary(fullTimes))
            """)
        #expect(embedding.allSatisfy { $0.isFinite })
    }
}
