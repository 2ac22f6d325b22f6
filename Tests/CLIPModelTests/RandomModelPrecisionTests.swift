import Foundation
import Testing

@testable import CLIPModel

/// The integer paths against fp32 on random models of the real shapes (`clipcam model random`): the 8-bit path
/// must keep cosine 0.999 there, the 16-bit path 0.99999. A debug build (-Onone) would take many minutes for the
/// fp32 encodings alone, so these run in optimised builds only:
/// `swift test -c release -Xswiftc -enable-testing --filter RandomModelPrecisionTests` (about a minute).
@Suite(.serialized) struct RandomModelPrecisionTests {
    #if DEBUG
        static let optimised = false
    #else
        static let optimised = true
    #endif
    /// Eight 224 × 224 inputs, normalised-pixel-like values: smooth gradients, blocks and noise that differ with
    /// the seed, and one of pure noise.
    static func images(size: Int) -> [[Float]] {
        (0..<8).map { seed in
            var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 &+ 1
            var pixels = [Float](repeating: 0, count: 3 * size * size)
            for channel in 0..<3 {
                for y in 0..<size {
                    for x in 0..<size {
                        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                        let noise = Float(state >> 40) / Float(1 << 24) - 0.5
                        let block: Float = ((x / (20 + 4 * seed)) + (y / (15 + 3 * seed))) % 2 == 0 ? 0.6 : -0.6
                        let gradient = Float(x * (seed + 1) + y * (channel + 1)) / Float(size * 4) - 1
                        let value = seed == 7 ? noise * 4 : gradient + block + noise * Float(channel + 1) * 0.5
                        pixels[(channel * size + y) * size + x] = value
                    }
                }
            }
            return pixels
        }
    }

    @Test(
        .enabled(
            if: optimised,
            Comment(
                rawValue: "random ViT-B models not run in a debug build: `swift test -c release -Xswiftc "
                    + "-enable-testing --filter RandomModelPrecisionTests` runs them")),
        arguments: [RandomModel.Shape.vitB32, .vitB16])
    func integerPathsStayCloseToFP32(shape: RandomModel.Shape) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "clipcam-random-precision-\(shape.rawValue)-\(getpid())")
        try? FileManager.default.removeItem(at: folder)
        defer { try? FileManager.default.removeItem(at: folder) }
        try RandomModel.write(shape: shape, seed: 1, to: folder, vocabulary: Fixtures.model("tiny-quickgelu-f32"))
        let images = Self.images(size: 224)
        let float = try CLIPModel(directory: folder, threads: 2)
        let reference = images.map { float.encodeImage($0) }
        for (precision, bound) in [(Precision.int16, 0.999_99), (.int8, 0.999)] {
            let model = try CLIPModel(directory: folder, threads: 2, precision: precision)
            let worst = zip(images, reference).map { cosine(model.encodeImage($0), $1) }.min()!
            print("random \(shape.rawValue): \(precision.rawValue) min cosine to fp32 \(worst)")
            #expect(worst >= bound, "random \(shape.rawValue) \(precision.rawValue): cosine \(worst) < \(bound)")
        }
    }
}
