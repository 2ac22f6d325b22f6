import Foundation
import Testing

@testable import CLIPModel

#if arch(x86_64)
    import VNNIKernels
#endif

/// The 8-bit path (`--precision int8`): every kernel's integer sums against a plain reference, the quantisation it
/// documents, and the encoder against fp32.
@Suite struct ByteQuantizedTests {
    /// Integer-valued operands chosen so that every scale is 1: each row spans exactly 255 (from −z to 255 − z)
    /// and each weight channel reaches ±127. The product (no bias) must then be the exact integer sum Σ_k x_k w_k,
    /// rebuilt as a Float, on every kernel, for ragged shapes (rows across whole and partial blocks of every
    /// kernel, inputs not a multiple of 4, panels cut short) and one or three workers. Run for each kernel by
    /// `IntegerKernelTests`.
    static func productIsTheExactIntegerSum(kernel: QuantizedKernel, threads: Int) {
        let pool = WorkerPool(threads: threads)
        let shapes = [(1, 1, 1), (2, 3, 5), (5, 8, 64), (6, 13, 65), (11, 771, 130), (23, 40, 17), (50, 768, 200)]
        for (rows, inputs, outputs) in shapes {
            var x = [Float](repeating: 0, count: rows * inputs)
            for r in 0..<rows {
                let zero = (r * 37) % 256
                for k in 0..<inputs { x[r * inputs + k] = Float((r * 131 + k * 71) % 256 - zero) }
                x[r * inputs] = Float(-zero)
                if inputs > 1 { x[r * inputs + inputs - 1] = Float(255 - zero) }
            }
            // A row of one input spans 0…255 as 255 or −255.
            if inputs == 1 { for r in 0..<rows { x[r] = r % 2 == 0 ? 255 : -255 } }
            var w = [Float](repeating: 0, count: outputs * inputs)
            for o in 0..<outputs {
                for k in 0..<inputs { w[o * inputs + k] = Float((o * 29 + k * 53) % 255 - 127) }
                w[o * inputs + (o % inputs)] = o % 2 == 0 ? 127 : -127
            }
            let linear = ByteLinear(weight: w, bias: nil, outputs: outputs, inputs: inputs, kernel: kernel)
            let bytes = ByteRows(rows: rows, inputs: inputs, kernel: kernel)
            bytes.quantize(x, rows: rows, inputs: inputs, lda: inputs)
            var y = [Float](repeating: 7, count: rows * outputs + 3)
            runProduct(x, rows: rows, lda: inputs, .int8(linear), into: &y, bytes: bytes, pool: pool)
            for r in 0..<rows {
                #expect(bytes.scales[r] == 1, "\(rows)×\(inputs): row \(r) scale \(bytes.scales[r])")
                for o in 0..<outputs {
                    var exact: Int64 = 0
                    for k in 0..<inputs { exact += Int64(x[r * inputs + k]) * Int64(w[o * inputs + k]) }
                    #expect(
                        y[r * outputs + o] == Float(exact),
                        "\(kernel.rawValue) \(rows)×\(inputs)×\(outputs) [\(r), \(o)]: \(y[r * outputs + o]) vs \(exact)"
                    )
                }
            }
            #expect(y[(rows * outputs)...].allSatisfy { $0 == 7 }, "\(rows)×\(outputs): wrote past the end")
        }
    }

    /// The largest sums the scheme allows: 255 · 127 over 65 536 inputs (the longest MLP clipcam loads) and the
    /// same negative, exact in Int32 on every kernel.
    static func longestProductsDoNotOverflow(kernel: QuantizedKernel) {
        let inputs = 65_536
        #expect(inputs <= ByteQuantization.maxInputs)
        var x = [Float](repeating: 255, count: inputs)
        x[0] = 0
        let w = [Float](repeating: 127, count: inputs) + [Float](repeating: -127, count: inputs)
        let linear = ByteLinear(weight: w, bias: nil, outputs: 2, inputs: inputs, kernel: kernel)
        let bytes = ByteRows(rows: 1, inputs: inputs, kernel: kernel)
        bytes.quantize(x, rows: 1, inputs: inputs, lda: inputs)
        var y = [Float](repeating: 0, count: 2)
        runProduct(x, rows: 1, lda: inputs, .int8(linear), into: &y, bytes: bytes, pool: WorkerPool(threads: 1))
        let exact = Float(255 * 127 * (inputs - 1))
        #expect(y == [exact, -exact], "\(y)")
    }

    #if arch(x86_64)
        /// The VNNI block's raw sums Σ_k u_k q_k against Int64 sums of the same bytes, for 1 to 5 rows and input
        /// counts around whole quads, with bytes over their whole ranges (u 0…255, q −128…127).
        @Test(.enabled(if: QuantizedKernel.avx512vnni.isAvailable, IntegerKernelTests.notRun(.avx512vnni)))
        func vnniBlockSumsAreExact() {
            for quads in [1, 2, 7, 192, 768] {
                var panel = [Int8](repeating: 0, count: quads * 256)
                for i in panel.indices { panel[i] = Int8(truncatingIfNeeded: i &* 2_654_435_761 >> 7) }
                for count in 1...ByteKernels.blockRows {
                    let rowBytes = quads * 4 + 4
                    var rows = [UInt8](repeating: 0, count: count * rowBytes)
                    for i in rows.indices { rows[i] = UInt8(truncatingIfNeeded: i &* 40_503 >> 3) }
                    var sums = [Int32](repeating: 0, count: count * 64)
                    rows.withUnsafeBytes { a in
                        panel.withUnsafeBytes { p in
                            ByteKernels.sums(
                                a.baseAddress!, count: count, rowBytes: rowBytes, panel: p.baseAddress!, quads: quads,
                                into: &sums)
                        }
                    }
                    for r in 0..<count {
                        for channel in 0..<64 {
                            var exact: Int64 = 0
                            for k in 0..<(quads * 4) {
                                exact +=
                                    Int64(rows[r * rowBytes + k]) * Int64(panel[(k / 4) * 256 + channel * 4 + k % 4])
                            }
                            #expect(Int64(sums[r * 64 + channel]) == exact, "\(quads) quads, row \(r) of \(count)")
                        }
                    }
                }
            }
        }

        /// Attention's K and V quantised and packed with AVX-512 (packRows, packColumns) equal the plain Swift
        /// quantisation packed the same way: bytes, scales and column sums, for ragged sizes (channels not a multiple
        /// of 16 or 64, inputs not a multiple of 4), a channel of zeros, and reuse of one layer for smaller sizes.
        @Test(.enabled(if: QuantizedKernel.avx512vnni.isAvailable, IntegerKernelTests.notRun(.avx512vnni)))
        func vnniAttentionPackingEqualsThePlainQuantisation() {
            let fast = ByteLinear(outputs: 200, inputs: 200, kernel: .avx512vnni, reusable: true)
            let plain = ByteLinear(outputs: 200, inputs: 200, kernel: .avx512vnni, reusable: true)
            let stride = 211
            var source: [Float] = (0..<(200 * stride)).map { Float(($0 * 7919) % 4001) / 613 - 3.2 }
            for k in 0..<200 { source[k * stride + 5] = 0 }  // column 5: all zero
            for o in 0..<stride { source[3 * stride + o] = 0 }  // row 3: all zero
            func same(_ what: String) {
                let channels = (fast.outputs + 63) / 64 * 64
                #expect(fast.quads == plain.quads && fast.outputs == plain.outputs, "\(what): sizes")
                let bytes = channels * fast.quads * 4
                #expect(memcmp(fast.packed!, plain.packed!, bytes) == 0, "\(what): packed bytes differ")
                for o in 0..<fast.outputs {
                    #expect(fast.scales[o] == plain.scales[o], "\(what): scale \(o)")
                    #expect(fast.columnSums[o] == plain.columnSums[o], "\(what): sum \(o)")
                }
            }
            source.withUnsafeBufferPointer { buffer in
                let x = buffer.baseAddress!
                for (outputs, inputs) in [(197, 64), (200, 200), (17, 3), (64, 13), (5, 1)] {
                    fast.quantizeRows(x, rowStride: stride, outputs: outputs, inputs: inputs)
                    plain.quantize(x, outputStride: stride, inputStride: 1, outputs: outputs, inputs: inputs)
                    same("rows \(outputs)×\(inputs)")
                    fast.quantizeColumns(x, rowStride: stride, outputs: outputs, inputs: inputs)
                    plain.quantize(x, outputStride: 1, inputStride: stride, outputs: outputs, inputs: inputs)
                    same("columns \(outputs)×\(inputs)")
                }
            }
        }

        /// The VNNI softmax-to-bytes gives the bytes and the sum of the plain Swift version (the same exp steps),
        /// for lengths around whole vectors of 8 and 16, with very negative and equal scores.
        @Test(.enabled(if: QuantizedKernel.avx512vnni.isAvailable, IntegerKernelTests.notRun(.avx512vnni)))
        func vnniSoftmaxBytesEqualThePlainVersion() {
            for count in [1, 7, 8, 15, 16, 17, 50, 197] {
                var scores: [Float] = (0..<count).map { Float(($0 * 104_729) % 997) / 41 - 12 }
                if count > 3 {
                    scores[1] = -1e30
                    scores[2] = scores[0]
                }
                var fast = [UInt8](repeating: 0, count: count)
                let fastTotal = ByteKernels.softmaxBytes(scores, count: count, into: &fast)
                var plain = [UInt8](repeating: 0, count: count)
                let plainTotal = ByteRows.softmaxLevels(scores, count: count) { k, u in plain[k] = UInt8(u) }
                #expect(fast == plain, "\(count) scores")
                #expect(abs(fastTotal - plainTotal) <= 1e-6 * plainTotal, "\(count): \(fastTotal) vs \(plainTotal)")
                #expect(fast.contains(255), "\(count): the largest score gives 255")
            }
        }

        /// The VNNI quantisation of a row gives the bytes of the documented formula (the one the other kernels use).
        @Test(.enabled(if: QuantizedKernel.avx512vnni.isAvailable, IntegerKernelTests.notRun(.avx512vnni)))
        func vnniRowQuantisationFollowsTheFormula() {
            for count in [1, 15, 16, 17, 100, 771] {
                let x: [Float] = (0..<count).map { Float(($0 * 7919) % 2003) / 137 - 6.5 + Float($0 % 7) * 0.25 }
                let (low, high) = ByteKernels.range(x, count: count)
                #expect(low == x.min()! && high == x.max()!)
                let (_, inverse, zero) = ByteQuantization.rowParameters(low: low, high: high)
                var bytes = [UInt8](repeating: 0, count: count)
                ByteKernels.quantize(x, count: count, inverse: inverse, zero: zero, into: &bytes)
                let expected = x.map { UInt8(ByteQuantization.quantize($0, inverse: inverse, zero: zero)) }
                #expect(bytes == expected, "\(count) values")
            }
        }
    #endif

    /// The product of float operands against the dequantised formula (exact integer sums, then float rounding),
    /// with bias, residual and both activations (quick_gelu is fused into the VNNI epilogue, gelu applied after).
    static func productMatchesTheDequantisedFormula(kernel: QuantizedKernel) {
        let pool = WorkerPool(threads: 2)
        for (rows, inputs, outputs) in [(7, 19, 33), (12, 50, 70), (50, 64, 130)] {
            let x: [Float] = (0..<(rows * inputs)).map { Float(($0 * 31) % 17) / 8 - 1 + Float($0 % 3) * 0.013 }
            let w: [Float] = (0..<(outputs * inputs)).map { Float(($0 * 7) % 13) / 6 - 1 + Float($0 % 5) * 0.007 }
            let b: [Float] = (0..<outputs).map { Float($0 % 5) - 2 }
            let residual: [Float] = (0..<(rows * outputs)).map { Float($0 % 3) }
            let linear = ByteLinear(weight: w, bias: b, outputs: outputs, inputs: inputs, kernel: kernel)
            let bytes = ByteRows(rows: rows, inputs: inputs, kernel: kernel)
            bytes.quantize(x, rows: rows, inputs: inputs, lda: inputs)
            for (accumulate, activation) in [(false, nil), (true, nil), (false, Activation.quickGELU), (false, .gelu)] {
                var y = residual
                runProduct(
                    x, rows: rows, lda: inputs, .int8(linear), into: &y, accumulate: accumulate,
                    activation: activation, bytes: bytes, pool: pool)
                for r in 0..<rows {
                    let row = Array(x[(r * inputs)..<((r + 1) * inputs)])
                    let (scale, inverse, zero) = ByteQuantization.rowParameters(low: row.min()!, high: row.max()!)
                    for o in 0..<outputs {
                        let weights = w[(o * inputs)..<((o + 1) * inputs)]
                        let s = weights.map { abs($0) }.max()! / 127
                        var sum: Int64 = 0
                        for k in 0..<inputs {
                            let u = Int64(ByteQuantization.quantize(row[k], inverse: inverse, zero: zero))
                            let q = Int64((w[o * inputs + k] * (1 / s)).rounded(.toNearestOrEven))
                            sum += (u - Int64(zero)) * q
                        }
                        var expected = Double(sum) * Double(scale) * Double(s) + Double(b[o])
                        if accumulate { expected += Double(residual[r * outputs + o]) }
                        if activation == .quickGELU { expected /= 1 + Foundation.exp(-1.702 * expected) }
                        if activation == .gelu { expected *= 0.5 * (1 + Foundation.erf(expected / 2.0.squareRoot())) }
                        let got = Double(y[r * outputs + o])
                        #expect(
                            abs(got - expected) < 1e-4 * max(1, abs(expected)),
                            "\(kernel.rawValue) \(rows)×\(inputs)×\(outputs) [\(r), \(o)]: \(got) vs \(expected)")
                    }
                }
            }
        }
    }

    /// Rows quantised by the pool's workers, alone or right after their LayerNorm, equal rows quantised one by one
    /// on one thread after Kernels.layerNorm: the same normalised floats, bytes, zero points and scales. Run for each
    /// kernel by `IntegerKernelTests`.
    static func sharedAndFusedQuantisationEqualsTheSerialOne(kernel: QuantizedKernel, threads: Int) {
        let pool = WorkerPool(threads: threads)
        let (rows, width) = (37, 72)
        let x: [Float] = (0..<(rows * width)).map { Float(($0 * 7919) % 1009) / 97 - 5 + Float($0 % 13) * 0.1 }
        let weight = FloatTensor(name: "ln.weight", shape: [width])
        let bias = FloatTensor(name: "ln.bias", shape: [width])
        for i in 0..<width {
            weight.mutablePointer[i] = 0.5 + Float(i % 7) * 0.2
            bias.mutablePointer[i] = Float(i % 5) * 0.1 - 0.2
        }
        var normed = [Float](repeating: 0, count: rows * width)
        Kernels.layerNorm(
            x, rows: rows, width: width, weight: weight.pointer, bias: bias.pointer, eps: 1e-5, into: &normed)
        let serial = ByteRows(rows: rows, inputs: width, kernel: kernel)
        serial.quantize(normed, rows: rows, inputs: width, lda: width)
        let shared = ByteRows(rows: rows, inputs: width, kernel: kernel)
        shared.quantize(normed, rows: rows, inputs: width, lda: width, pool: pool)
        let fused = ByteRows(rows: rows, inputs: width, kernel: kernel)
        var fusedNormed = [Float](repeating: 0, count: rows * width)
        fusedNormed.withUnsafeMutableBufferPointer { output in
            fused.layerNorm(
                x, rows: rows, width: width, weights: LayerNormWeights(weight: weight, bias: bias), eps: 1e-5,
                into: output.baseAddress!, pool: pool)
        }
        #expect(fusedNormed == normed)
        // What a product by the next int8 layer finds quantised already: these rows of this buffer, no others.
        fusedNormed.withUnsafeBufferPointer { held in
            #expect(fused.holds(held.baseAddress!, rows: rows, inputs: width, lda: width))
            #expect(!fused.holds(held.baseAddress!, rows: 1, inputs: width, lda: width))
        }
        #expect(!fused.holds(normed, rows: rows, inputs: width, lda: width))
        for other in [shared, fused] {
            for row in 0..<rows {
                #expect(other.zeros[row] == serial.zeros[row] && other.scales[row] == serial.scales[row], "row \(row)")
            }
            if let wide = serial.wide, let otherWide = other.wide {
                #expect(memcmp(wide.values, otherWide.values, rows * wide.stride * 2) == 0, "\(kernel.rawValue)")
            } else {
                #expect(memcmp(serial.bytes, other.bytes, rows * serial.stride) == 0, "\(kernel.rawValue)")
            }
        }
    }

    /// int8 on a kernel that multiplies 16-bit integers is no faster than int16: the warning says so and why.
    @Test func int8WarnsWhereItRunsOnSixteenBits() {
        #expect(QuantizedKernel.avx512vnni.int8Warning == nil)
        for kernel in [QuantizedKernel.avx2, .portable] {
            let warning = kernel.int8Warning ?? ""
            #expect(warning.hasPrefix("int8 runs on the \(kernel.rawValue) kernel here ("), "\(warning)")
            #expect(warning.contains("no faster than --precision int16"), "\(warning)")
            if let reason = QuantizedKernel.avx512vnni.unavailableReason {
                #expect(warning.contains(reason), "\(warning)")
            } else {
                #expect(warning.contains("CLIPCAM_INT8_KERNEL=\(kernel.rawValue)"), "\(warning)")
            }
        }
    }

    /// Every kernel quantises alike and sums exactly, so the encoders' outputs on two kernels differ by float
    /// rounding in the epilogue at most (here: not at all in practice, as the epilogues do the same operations).
    @Test(
        .enabled(
            if: QuantizedKernel.allCases.filter(\.isAvailable).count > 1,
            "only one integer kernel runs on this CPU: nothing to compare"))
    func kernelsGiveTheSameEmbeddings() throws {
        let available = QuantizedKernel.allCases.filter(\.isAvailable)
        let reference = try Reference(model: "tiny-gelu-f16")
        var embeddings: [[[Float]]] = []
        for kernel in available {
            let model = try CLIPModel(
                directory: Fixtures.model("tiny-gelu-f16"), threads: 2, precision: .int8, integerKernel: kernel)
            embeddings.append(reference.pixelValues.map { model.encodeImage($0) })
        }
        for (index, kernel) in available.enumerated().dropFirst() {
            for (image, (a, b)) in zip(embeddings[0], embeddings[index]).enumerated() {
                #expect(cosine(a, b) > 0.999_999, "\(kernel.rawValue) image \(image)")
            }
        }
    }
}

/// Every integer kernel, one test each, against the expectations of both integer paths. A kernel this CPU or build
/// cannot run is skipped with the reason (shown by `swift test`), never left out unnamed.
@Suite struct IntegerKernelTests {
    /// The skip comment of a kernel that cannot run here.
    static func notRun(_ kernel: QuantizedKernel) -> Comment {
        Comment(rawValue: "\(kernel.rawValue) not run: \(kernel.unavailableReason ?? "")")
    }

    static func check(_ kernel: QuantizedKernel) {
        for threads in 1...3 { QuantizedTests.productMatchesTheDequantisedFormula(threads: threads, kernel: kernel) }
        QuantizedTests.extremeValuesDoNotOverflow(kernel: kernel)
        for threads in [1, 3] { ByteQuantizedTests.productIsTheExactIntegerSum(kernel: kernel, threads: threads) }
        ByteQuantizedTests.longestProductsDoNotOverflow(kernel: kernel)
        ByteQuantizedTests.productMatchesTheDequantisedFormula(kernel: kernel)
        for threads in [2, 3] {
            ByteQuantizedTests.sharedAndFusedQuantisationEqualsTheSerialOne(kernel: kernel, threads: threads)
        }
    }

    @Test(.enabled(if: QuantizedKernel.avx512vnni.isAvailable, notRun(.avx512vnni)))
    func avx512vnni() { Self.check(.avx512vnni) }

    @Test(.enabled(if: QuantizedKernel.avx2.isAvailable, notRun(.avx2)))
    func avx2() { Self.check(.avx2) }

    @Test(.enabled(if: QuantizedKernel.portable.isAvailable, notRun(.portable)))
    func portable() { Self.check(.portable) }
}
