import Classifier
import Foundation
import Testing

@testable import ClipCamKit

@Suite struct SmoothingTests {
    @Test func movingAverageOverTheLastNPushes() {
        var average = MovingAverage(window: 3)
        #expect(average.push([3, 0]) == [3, 0])
        #expect(average.push([6, 3]) == [4.5, 1.5])
        #expect(average.push([9, 6]) == [6, 3])
        // The first push leaves the window.
        #expect(average.push([12, 0]) == [9, 3])
        #expect(average.push([0, 0]) == [7, 2])
    }

    @Test func aWindowOfOnePassesValuesThrough() {
        var average = MovingAverage(window: 1)
        #expect(average.push([0.25, -0.5]) == [0.25, -0.5])
        #expect(average.push([0.75, 0.5]) == [0.75, 0.5])
    }

    @Test func anotherLengthStartsAgain() {
        var average = MovingAverage(window: 4)
        _ = average.push([10, 10])
        #expect(average.push([1, 2, 3]) == [1, 2, 3])
    }

    @Test func scorerScalesSoftmaxesAndFlags() {
        // Unit prompt vectors along the axes: the cosines are the normalised image's components.
        let prompts = [
            PromptEmbedding(text: "x", embedding: [1, 0, 0], tokenCount: 3, truncated: false),
            PromptEmbedding(text: "y", embedding: [0, 1, 0], tokenCount: 3, truncated: false),
        ]
        var scorer = PromptScorer(
            prompts: prompts, range: .heuristic, threshold: 50, smooth: 1, logitScale: Float(100).logarithm)
        let (scores, best, flagged) = scorer.score(imageEmbedding: [0.3, 0.2, (1 - 0.13).squareRoot()].map { $0 * 7 })
        #expect(best == 0)
        #expect(abs(scores[0].cosine - 0.3) < 1e-6)
        #expect(abs(scores[1].cosine - 0.2) < 1e-6)
        #expect(abs(scores[0].percent - 60) < 1e-3)
        #expect(abs(scores[1].percent - 20) < 1e-3)
        // softmax(100 · [0.3, 0.2]) = [1, e^-10] / (1 + e^-10).
        let expected = 1 / (1 + Float(-10).exponential)
        #expect(abs(scores[0].probability - expected) < 1e-6)
        #expect(flagged)
        let (_, _, below) = scorer.score(imageEmbedding: [0.1, 0.2, (1 - 0.05).squareRoot()])
        // Averaging is off: the new frame alone decides; 0.2 → 20 % is under the threshold.
        #expect(!below)
    }
}

extension Float {
    fileprivate var logarithm: Float { Float(Foundation.log(Double(self))) }
    fileprivate var exponential: Float { Float(Foundation.exp(Double(self))) }
}
