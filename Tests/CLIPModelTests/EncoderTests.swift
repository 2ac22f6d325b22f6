import Foundation
import Testing

@testable import CLIPModel

/// Behaviour of the public encoder API beyond matching the reference.
@Suite struct EncoderTests {
    @Test func pooledPositionFollowsTransformersRule() {
        var legacy = TextConfig()
        legacy.eosTokenID = 2
        var modern = TextConfig()
        modern.eosTokenID = 1513
        // Under the legacy rule the largest id wins wherever it is; its first occurrence on ties.
        #expect(TextEncoder.pooledPosition([1512, 5, 1513, 1513, 1513], config: legacy) == 2)
        #expect(TextEncoder.pooledPosition([1512, 1600, 1513], config: legacy) == 1)
        #expect(TextEncoder.pooledPosition([1512, 5, 1513, 1513], config: modern) == 2)
        #expect(TextEncoder.pooledPosition([1512, 1600, 1513], config: modern) == 2)
        // No end token: position 0, as argmax over all-false gives.
        #expect(TextEncoder.pooledPosition([1512, 5, 6], config: modern) == 0)
    }

    @Test(arguments: Fixtures.modelNames)
    func paddingAfterTheEndTokenChangesNothing(model name: String) throws {
        let reference = try Reference(model: name)
        let model = try CLIPModel(directory: Fixtures.model(name))
        let end = Int32(model.configuration.text.vocabSize - 1)
        for ids in reference.inputIDs {
            let endIndex = ids.firstIndex(of: end)!
            let unpadded = Array(ids[...endIndex])
            #expect(model.encodeText(ids: unpadded) == model.encodeText(ids: ids))
        }
    }

    @Test func textEncodingDependsOnTokensBeforeTheEndOnly() throws {
        let model = try CLIPModel(directory: Fixtures.model("tiny-gelu-f16"))
        let a = model.encodeText(ids: [1512, 320, 1125, 1513])
        let b = model.encodeText(ids: [1512, 320, 1126, 1513])
        #expect(maxAbsDifference(a, b) > 1e-3)
        #expect(model.encodeText(ids: [1512, 320, 1125, 1513, 7, 8, 9]) == a)
    }

    @Test(arguments: Fixtures.modelNames)
    func pointerAndArrayImageAPIsAgreeAndCallsAreIndependent(model name: String) throws {
        let reference = try Reference(model: name)
        let model = try CLIPModel(directory: Fixtures.model(name))
        let first = model.encodeImage(reference.pixelValues[0])
        _ = model.encodeImage(reference.pixelValues[1])
        var viaPointer = [Float](repeating: .nan, count: model.embeddingSize)
        reference.pixelValues[0].withUnsafeBufferPointer { pixels in
            viaPointer.withUnsafeMutableBufferPointer { output in
                model.encodeImage(pixels: pixels.baseAddress!, into: output.baseAddress!)
            }
        }
        #expect(viaPointer == first)
        #expect(maxAbsDifference(first, model.encodeImage(reference.pixelValues[1])) > 1e-3)
    }

    @Test func modelProperties() throws {
        let model = try CLIPModel(directory: Fixtures.model("tiny-quickgelu-f32"))
        #expect(model.imageSize == 64 && model.embeddingSize == 24 && model.contextLength == 77)
        #expect(abs(model.logitScale - Float(log(100.0))) < 1e-6)
        let half = try CLIPModel(directory: Fixtures.model("tiny-gelu-f16"))
        #expect(half.imageSize == 48 && half.embeddingSize == 16)
        // F16 rounding of ln(100) = 4.6052 is 4.60546875.
        #expect(half.logitScale == 4.60546875)
    }

    @Test func l2Normalized() {
        #expect(isClose(CLIPModel.l2Normalized([3, 4]), [0.6, 0.8], atol: 1e-7))
        #expect(CLIPModel.l2Normalized([0, 0, 0]) == [0, 0, 0])
        let v = CLIPModel.l2Normalized([1e-20, -2e-20, 2e-20])
        #expect(isClose(v, [1.0 / 3, -2.0 / 3, 2.0 / 3], atol: 1e-7))
    }
}
