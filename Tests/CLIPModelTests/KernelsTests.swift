import Foundation
import Testing

@testable import CLIPModel

/// The numeric kernels against plain Double-precision formulas.
@Suite struct KernelsTests {
    @Test func vectorExpIsAccurateOverTheWholeRange() {
        var worst = 0.0
        var x: Float = -87
        while x < 88 {
            let lanes = SIMD8<Float>((0..<8).map { x + Float($0) * 0.0013 })
            let result = Kernels.exp(lanes)
            for lane in 0..<8 {
                let exact = Foundation.exp(Double(lanes[lane]))
                worst = max(worst, abs(Double(result[lane]) - exact) / exact)
            }
            x += 0.0107
        }
        #expect(worst < 3e-7, "relative error \(worst)")
        let extremes = Kernels.exp(SIMD8(-1000, -Float.infinity, 1000, 0, 1, -1, 88.7, -87.5))
        #expect(extremes[0] > 0 && extremes[0] < 1e-37 && extremes[1] > 0 && extremes[1] < 1e-37)
        #expect(extremes[2].isFinite && extremes[2] > 1e38)
        #expect(extremes[3] == 1 && abs(extremes[4] - 2.7182817) < 3e-7 && abs(extremes[5] - 0.36787945) < 1e-7)
    }

    @Test(arguments: Activation.allCases)
    func activationsMatchTheirFormulas(activation: Activation) {
        let inputs: [Float] = (0..<203).map { Float($0) * 0.1 - 10.05 } + [-80, -30, 30, 80]
        var values = inputs
        values.withUnsafeMutableBufferPointer { Kernels.activate(activation, $0.baseAddress!, count: $0.count) }
        for (x, y) in zip(inputs, values) {
            let d = Double(x)
            let expected: Double
            switch activation {
            case .quickGELU: expected = d / (1 + Foundation.exp(-1.702 * d))
            case .gelu: expected = 0.5 * d * (1 + erf(d / 2.0.squareRoot()))
            case .geluNew, .geluPytorchTanh:
                expected = 0.5 * d * (1 + tanh((2 / Double.pi).squareRoot() * (d + 0.044715 * d * d * d)))
            }
            #expect(
                abs(Double(y) - expected) <= 1e-6 * max(1, abs(expected)),
                "\(activation) at \(x): \(y) vs \(expected)")
        }
    }

    @Test func softmaxIsStableAndExact() {
        for count in [1, 7, 8, 50, 77] {
            let inputs: [Float] = (0..<count).map { Float(($0 * 37) % 23) * 3 + 500 }
            var values = inputs
            values.withUnsafeMutableBufferPointer { Kernels.softmax($0.baseAddress!, count: count) }
            let maximum = Double(inputs.max()!)
            let exps = inputs.map { Foundation.exp(Double($0) - maximum) }
            let total = exps.reduce(0, +)
            for (value, e) in zip(values, exps) {
                #expect(abs(Double(value) - e / total) < 3e-7, "count \(count)")  // a few Float ulps
            }
        }
    }

    @Test func layerNormMatchesDouble() {
        let width = 77
        let x: [Float] = (0..<(2 * width)).map { Float(($0 * 29) % 31) * 0.37 + 1000 }
        let weight: [Float] = (0..<width).map { 1 + Float($0 % 5) * 0.1 }
        let bias: [Float] = (0..<width).map { Float($0 % 3) * 0.05 }
        var y = [Float](repeating: 0, count: x.count)
        Kernels.layerNorm(x, rows: 2, width: width, weight: weight, bias: bias, eps: 1e-5, into: &y)
        for row in 0..<2 {
            let values = x[(row * width)..<((row + 1) * width)].map(Double.init)
            let mean = values.reduce(0, +) / Double(width)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(width)
            for i in 0..<width {
                let expected = (values[i] - mean) / (variance + 1e-5).squareRoot() * Double(weight[i]) + Double(bias[i])
                #expect(abs(Double(y[row * width + i]) - expected) < 2e-4, "row \(row) column \(i)")
            }
        }
    }

    @Test(arguments: [false, true])
    func attentionMatchesNaive(causal: Bool) {
        let tokens = 5, width = 12, heads = 3, headDim = 4
        let qkv: [Float] = (0..<(tokens * 3 * width)).map { Float(($0 * 53) % 41) / 10 - 2 }
        var scores = [Float](repeating: 0, count: tokens * tokens)
        var context = [Float](repeating: 0, count: tokens * width)
        Kernels.attention(
            qkv: qkv, tokens: tokens, width: width, heads: heads, causal: causal, scores: &scores,
            context: &context)
        for head in 0..<heads {
            for i in 0..<tokens {
                let visible = causal ? i + 1 : tokens
                var logits: [Double] = []
                for j in 0..<visible {
                    var dot = 0.0
                    for d in 0..<headDim {
                        dot +=
                            Double(qkv[i * 3 * width + head * headDim + d])
                            * Double(qkv[j * 3 * width + width + head * headDim + d])
                    }
                    logits.append(dot / Double(headDim).squareRoot())
                }
                let maximum = logits.max()!
                let weights = logits.map { Foundation.exp($0 - maximum) }
                let total = weights.reduce(0, +)
                for d in 0..<headDim {
                    var expected = 0.0
                    for j in 0..<visible {
                        expected += weights[j] / total * Double(qkv[j * 3 * width + 2 * width + head * headDim + d])
                    }
                    #expect(abs(Double(context[i * width + head * headDim + d]) - expected) < 1e-5)
                }
            }
        }
    }

    @Test func linearAddsBiasAndAccumulates() {
        // x [2×3], W [2×3] (outputs × inputs), b [2]
        let x: [Float] = [1, 2, 3, 4, 5, 6]
        let w: [Float] = [1, 0, -1, 0.5, 0.5, 0.5]
        let b: [Float] = [10, 20]
        var y = [Float](repeating: 99, count: 4)
        Kernels.linear(x, rows: 2, inputs: 3, weight: w, bias: b, outputs: 2, into: &y)
        #expect(y == [8, 23, 8, 27.5])
        Kernels.linear(x, rows: 2, inputs: 3, weight: w, bias: nil, outputs: 2, into: &y, accumulate: true)
        #expect(y == [6, 26, 6, 35])
    }
}
