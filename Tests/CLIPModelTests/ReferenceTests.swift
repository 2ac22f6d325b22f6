import Foundation
import Testing

@testable import CLIPModel

/// The Swift encoders against transformers' CLIPModel on the fixture models (scripts/fixtures/gen_models.py), on
/// every fp32 kernel this CPU runs (KernelChoiceTests reports the others as skipped, naming the missing flags).
@Suite struct ReferenceTests {
    @Test(arguments: Fixtures.modelNames, testedKernels)
    func imageEmbeddingsMatchTransformers(model name: String, kernel: FloatKernel) throws {
        let reference = try Reference(model: name)
        let model = try CLIPModel(directory: Fixtures.model(name), floatKernel: .forced(kernel))
        #expect(reference.pixelValues.count == reference.imageNames.count)
        #expect(reference.pixelValues.count >= 6)
        var worst: Float = 0
        var worstCosine = 1.0
        for (index, pixels) in reference.pixelValues.enumerated() {
            let embedding = model.encodeImage(pixels)
            let expected = reference.imageEmbeds[index]
            let difference = maxAbsDifference(CLIPModel.l2Normalized(embedding), CLIPModel.l2Normalized(expected))
            let similarity = cosine(embedding, expected)
            worst = max(worst, difference)
            worstCosine = min(worstCosine, similarity)
            #expect(difference <= 1e-4, "\(name) image \(reference.imageNames[index]): max abs diff \(difference)")
            #expect(similarity >= 0.99999, "\(name) image \(reference.imageNames[index]): cosine \(similarity)")
        }
        print("\(name), \(kernel): image embeddings max abs diff \(worst) (normalised), min cosine \(worstCosine)")
    }

    @Test(arguments: Fixtures.modelNames, testedKernels)
    func textEmbeddingsMatchTransformers(model name: String, kernel: FloatKernel) throws {
        let reference = try Reference(model: name)
        let model = try CLIPModel(directory: Fixtures.model(name), floatKernel: .forced(kernel))
        #expect(reference.inputIDs.count == reference.prompts.count)
        var worst: Float = 0
        var worstCosine = 1.0
        for (index, ids) in reference.inputIDs.enumerated() {
            let embedding = model.encodeText(ids: ids)
            let expected = reference.textEmbeds[index]
            let difference = maxAbsDifference(CLIPModel.l2Normalized(embedding), CLIPModel.l2Normalized(expected))
            let similarity = cosine(embedding, expected)
            worst = max(worst, difference)
            worstCosine = min(worstCosine, similarity)
            #expect(difference <= 1e-4, "\(name) prompt \"\(reference.prompts[index])\": max abs diff \(difference)")
            #expect(similarity >= 0.99999, "\(name) prompt \"\(reference.prompts[index])\": cosine \(similarity)")
        }
        print("\(name), \(kernel): text embeddings max abs diff \(worst) (normalised), min cosine \(worstCosine)")
    }
}
