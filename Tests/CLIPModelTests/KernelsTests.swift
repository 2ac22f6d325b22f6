import Foundation
import Testing

@testable import CLIPModel

#if arch(x86_64)
    @testable import AVX512Kernels
#endif

/// The fp32 kernels this CPU runs: the kernel tests take each of them. The kernels it cannot run are reported as
/// skipped, with the missing flags, by KernelChoiceTests' `avx512KernelIsTested` and `avx2KernelIsTested`.
let testedKernels = FloatKernel.available()

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
        let scalar = inputs.map { Kernels.activate(activation, $0) }
        var lanes: [Float] = []
        for start in stride(from: 0, to: inputs.count - 7, by: 8) {
            let result = Kernels.activate(activation, SIMD8<Float>(inputs[start..<(start + 8)]))
            lanes += (0..<8).map { result[$0] }
        }
        #expect(lanes.count >= inputs.count - 7)
        for (x, y) in Array(zip(inputs, scalar)) + Array(zip(inputs, lanes)) {
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

    /// Every head's attention against a Double formula, with head sizes that fill whole 16-column vectors (16, 32)
    /// and that do not (12), token counts below, at and past a panel and a block, on one and two threads, for every
    /// query row and for one row alone, on every fp32 kernel.
    @Test(arguments: [false, true], testedKernels)
    func attentionMatchesNaive(causal: Bool, kernel: FloatKernel) {
        for threads in [1, 2] {
            attentionMatchesNaive(causal: causal, threads: threads, kernel: kernel)
        }
    }

    func attentionMatchesNaive(causal: Bool, threads: Int, kernel: FloatKernel) {
        for (tokens, width, heads) in [(5, 12, 3), (50, 64, 4), (13, 36, 3), (33, 64, 2), (11, 96, 3)] {
            let headDim = width / heads
            let scale = 1 / Float(headDim).squareRoot()
            let qkv: [Float] = (0..<(tokens * 3 * width)).map { Float(($0 * 53) % 41) / 10 - 2 }
            // The kernel takes queries already scaled (the model folds the scale into the query weights).
            var scaled = qkv
            for i in 0..<tokens { for c in 0..<width { scaled[i * 3 * width + c] *= scale } }
            let pool = WorkerPool(threads: threads)
            let task = AttentionTask(
                scratch: (0..<threads).map { _ in
                    AttentionScratch(headDim: headDim, maxTokens: tokens + 3, kernel: kernel)
                })
            for queries in [0..<tokens, (tokens - 1)..<tokens, 0..<1] {
                var context = [Float](repeating: .nan, count: tokens * width)
                task.perform(
                    qkv: scaled, tokens: tokens, width: width, heads: heads, causal: causal, queries: queries,
                    context: &context, pool: pool)
                for head in 0..<heads {
                    for i in queries {
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
                                expected +=
                                    weights[j] / total * Double(qkv[j * 3 * width + 2 * width + head * headDim + d])
                            }
                            let got = Double(context[i * width + head * headDim + d])
                            #expect(
                                abs(got - expected) < 2e-5,
                                "\(kernel) tokens \(tokens) head \(head) row \(i) dim \(d): \(got) vs \(expected)")
                        }
                    }
                }
            }
        }
    }

    /// The packed product against a Double formula over shapes with partial row blocks (both kernels' blocks: 4 and
    /// 10 rows) and partial panels (24 and 32 outputs, and vectors of 8 and 16), with bias, residual accumulation and
    /// an activation, the panels shared among one to three workers, on every fp32 kernel.
    @Test(arguments: [1, 2, 3], testedKernels)
    func packedProductMatchesNaive(threads: Int, kernel: FloatKernel) {
        let pool = WorkerPool(threads: threads)
        let shapes = [
            (1, 3, 2), (5, 8, 16), (7, 19, 33), (12, 50, 40), (50, 64, 48), (10, 1, 17), (11, 24, 31), (19, 9, 65),
            (21, 40, 96), (3, 70, 100), (23, 5, 8), (2, 17, 49),
        ]
        for (rows, inputs, outputs) in shapes {
            let x: [Float] = (0..<(rows * inputs)).map { Float(($0 * 31) % 17) / 8 - 1 }
            let w: [Float] = (0..<(outputs * inputs)).map { Float(($0 * 7) % 13) / 6 - 1 }
            let b: [Float] = (0..<outputs).map { Float($0 % 5) - 2 }
            let residual: [Float] = (0..<(rows * outputs)).map { Float($0 % 3) }
            let activations: [Activation?] = [nil, .quickGELU, .gelu, .geluNew]
            for (accumulate, activation) in [(false, nil), (true, nil)] + activations.dropFirst().map({ (true, $0) }) {
                let linear = PackedLinear(
                    weight: w, bias: activation == .gelu ? nil : b, outputs: outputs, inputs: inputs, kernel: kernel)
                // One extra row after the output checks that nothing is written past the last row.
                var y = residual + [Float](repeating: 7, count: outputs)
                runProduct(
                    x, rows: rows, lda: inputs, .float(linear), into: &y, accumulate: accumulate,
                    activation: activation, pool: pool)
                for r in 0..<rows {
                    for o in 0..<outputs {
                        var exact = activation == .gelu ? 0 : Double(b[o])
                        for k in 0..<inputs { exact += Double(x[r * inputs + k]) * Double(w[o * inputs + k]) }
                        if accumulate { exact += Double(residual[r * outputs + o]) }
                        if let activation { exact = Self.activation(activation, exact) }
                        let got = Double(y[r * outputs + o])
                        #expect(
                            abs(got - exact) < 1e-4 * max(1, abs(exact)),
                            "\(kernel) \(rows)×\(inputs)×\(outputs) [\(r), \(o)] \(activation.map { "\($0)" } ?? "-"): \(got) vs \(exact)"
                        )
                    }
                }
                #expect(y[(rows * outputs)...].allSatisfy { $0 == 7 }, "\(rows)×\(outputs): wrote past the end")
            }
        }
    }

    /// Products into rows of a wider matrix (as attention writes a head's context) and from rows of a wider one
    /// (as it reads a head's queries), over a part of the panels: only those columns are written.
    @Test(arguments: testedKernels)
    func stridedProductOverSomePanels(kernel: FloatKernel) {
        let rows = 13
        let inputs = 20
        let lda = 29
        let outputs = 80
        let stride = 91
        let x: [Float] = (0..<(rows * lda)).map { Float(($0 * 13) % 11) / 5 - 1 }
        let w: [Float] = (0..<(outputs * inputs)).map { Float(($0 * 5) % 9) / 4 - 1 }
        let panels = PackedPanels(weight: w, outputs: outputs, depth: inputs, kernel: kernel)
        let width = kernel.panelWidth
        for range in [0..<panels.panels, 1..<2, (panels.panels - 1)..<panels.panels] {
            var y = [Float](repeating: 7, count: rows * stride)
            y.withUnsafeMutableBufferPointer { out in
                PackedGEMM.multiply(
                    x, rows: rows, lda: lda, panels, bias: nil, panels: range,
                    output: ProductOutput(pointer: out.baseAddress!, stride: stride))
            }
            let columns = (range.lowerBound * width)..<min(outputs, range.upperBound * width)
            for r in 0..<rows {
                for o in 0..<stride {
                    let got = y[r * stride + o]
                    guard columns.contains(o) else {
                        #expect(got == 7, "\(kernel) panels \(range): [\(r), \(o)] written")
                        continue
                    }
                    var exact = 0.0
                    for k in 0..<inputs { exact += Double(x[r * lda + k]) * Double(w[o * inputs + k]) }
                    #expect(abs(Double(got) - exact) < 1e-4 * max(1, abs(exact)), "\(kernel) [\(r), \(o)]")
                }
            }
        }
    }

    /// The 16-lane eˣ, softmax and activations of the AVX-512 kernel against Double formulas, as the 8-lane ones
    /// above.
    @Test(.enabled(if: FloatKernel.avx512.isAvailable(), KernelChoiceTests.notRun(.avx512)))
    func avx512ElementwiseKernels() {
        #if arch(x86_64)
            var worst = 0.0
            var x: Float = -87
            while x < 88 {
                let lanes = SIMD16<Float>((0..<16).map { x + Float($0) * 0.0013 })
                let result = AVX512Math.exp(lanes)
                for lane in 0..<16 {
                    let exact = Foundation.exp(Double(lanes[lane]))
                    worst = max(worst, abs(Double(result[lane]) - exact) / exact)
                }
                x += 0.0213
            }
            #expect(worst < 3e-7, "relative error \(worst)")
            for count in [1, 7, 15, 16, 17, 33, 50, 77, 197] {
                let inputs: [Float] = (0..<count).map { Float(($0 * 37) % 23) * 3 + 500 }
                var values = inputs
                values.withUnsafeMutableBufferPointer { AVX512Math.softmax($0.baseAddress!, count: count) }
                let maximum = Double(inputs.max()!)
                let exps = inputs.map { Foundation.exp(Double($0) - maximum) }
                let total = exps.reduce(0, +)
                for (value, e) in zip(values, exps) {
                    #expect(abs(Double(value) - e / total) < 3e-7, "count \(count)")
                }
            }
            for activation in Activation.allCases {
                let inputs: [Float] = (0..<208).map { Float($0) * 0.1 - 10.05 }
                for start in stride(from: 0, to: inputs.count, by: 16) {
                    let result = AVX512GEMM.activate(activation.avx512, SIMD16<Float>(inputs[start..<(start + 16)]))
                    for lane in 0..<16 {
                        let exact = Self.activation(activation, Double(inputs[start + lane]))
                        #expect(
                            abs(Double(result[lane]) - exact) <= 1e-6 * max(1, abs(exact)),
                            "\(activation) at \(inputs[start + lane])")
                    }
                }
            }
        #endif
    }

    /// The activations in Double.
    static func activation(_ activation: Activation, _ d: Double) -> Double {
        switch activation {
        case .quickGELU: return d / (1 + Foundation.exp(-1.702 * d))
        case .gelu: return 0.5 * d * (1 + erf(d / 2.0.squareRoot()))
        case .geluNew, .geluPytorchTanh:
            return 0.5 * d * (1 + tanh((2 / Double.pi).squareRoot() * (d + 0.044715 * d * d * d)))
        }
    }

    /// The LayerNorm shared among workers in chunks of rows gives the one-thread result bit for bit, in place too.
    @Test(arguments: [1, 2, 3])
    func sharedLayerNormEqualsOneThread(threads: Int) {
        let width = 40
        let weight = FloatTensor(name: "w", shape: [width])
        let bias = FloatTensor(name: "b", shape: [width])
        for i in 0..<width {
            weight.mutablePointer[i] = 1 + Float(i % 7) * 0.1
            bias.mutablePointer[i] = Float(i % 3) * 0.2
        }
        let weights = LayerNormWeights(weight: weight, bias: bias)
        let pool = WorkerPool(threads: threads)
        let task = LayerNormTask()
        for rows in [1, 7, 8, 9, 16, 17, 50] {
            let x: [Float] = (0..<(rows * width)).map { Float(($0 * 37) % 29) * 0.3 - 4 }
            var expected = [Float](repeating: 0, count: x.count)
            Kernels.layerNorm(
                x, rows: rows, width: width, weight: weight.pointer, bias: bias.pointer, eps: 1e-5, into: &expected)
            var shared = [Float](repeating: .nan, count: x.count)
            var inPlace = x
            shared.withUnsafeMutableBufferPointer { y in
                task.set(x, rows: rows, width: width, weights, eps: 1e-5, into: y.baseAddress!, pool: pool)
                pool.run(task)
            }
            inPlace.withUnsafeMutableBufferPointer { y in
                task.set(y.baseAddress!, rows: rows, width: width, weights, eps: 1e-5, into: y.baseAddress!, pool: pool)
                pool.run(task)
            }
            task.clear()
            #expect(shared == expected && inPlace == expected, "\(rows) rows on \(threads) threads")
        }
    }

    /// Claimed chunks cover every item exactly once, whichever worker claims them.
    @Test(arguments: [1, 2, 3])
    func claimedChunksCoverEveryItemOnce(threads: Int) {
        let pool = WorkerPool(threads: threads)
        for count in [1, 3, 48, 49, 128] {
            let seen = UnsafeMutablePointer<Int>.allocate(capacity: count)
            seen.initialize(repeating: 0, count: count)
            defer { seen.deallocate() }
            let workers = UnsafeMutablePointer<Int>.allocate(capacity: count)
            defer { workers.deallocate() }
            pool.run { worker in
                while let chunk = pool.claim(count, worker: worker) {
                    for item in chunk {
                        seen[item] += 1
                        workers[item] = worker
                    }
                }
            }
            #expect((0..<count).allSatisfy { seen[$0] == 1 }, "count \(count)")
            #expect((0..<count).allSatisfy { (0..<threads).contains(workers[$0]) })
        }
    }

    /// A worker takes its own share first, in order, then the others' shares (here the other workers claim nothing).
    @Test func aWorkerClaimsItsOwnShareFirst() {
        let pool = WorkerPool(threads: 3)
        let order = UnsafeMutablePointer<Int>.allocate(capacity: 10)
        defer { order.deallocate() }
        var claims = 0
        pool.run { worker in
            guard worker == 1 else { return }
            while let chunk = pool.claim(10, worker: worker) {
                order[claims] = chunk.lowerBound
                claims += 1
            }
        }
        #expect(claims == 10)
        #expect(Array(UnsafeBufferPointer(start: order, count: claims)) == [3, 4, 5, 6, 7, 8, 9, 0, 1, 2])
    }
}
