import Foundation
import Testing

@testable import CLIPModel

/// The 16-bit integer path (`--precision int16`): the kernel against the quantisation it documents, and both
/// integer paths' encoders against fp32.
@Suite struct QuantizedTests {
    /// The int8 product equals the float formula applied to the dequantised operands (exact integer dot products,
    /// then float rounding), for shapes with partial row blocks, partial panels and inputs not a multiple of 4,
    /// with bias, residual and activation, on one to three workers, on every kernel this CPU runs. Its error
    /// against the exact product is within the quantisation bound. Run for each kernel by `IntegerKernelTests`.
    static func productMatchesTheDequantisedFormula(threads: Int, kernel: QuantizedKernel) {
        let pool = WorkerPool(threads: threads)
        let shapes = [(1, 3, 2), (5, 8, 16), (7, 19, 33), (12, 50, 40), (23, 40, 17), (50, 64, 48)]
        for (rows, inputs, outputs) in shapes {
            let x: [Float] = (0..<(rows * inputs)).map { Float(($0 * 31) % 17) / 8 - 1 + Float($0 % 3) * 0.013 }
            let w: [Float] = (0..<(outputs * inputs)).map { Float(($0 * 7) % 13) / 6 - 1 + Float($0 % 5) * 0.007 }
            let b: [Float] = (0..<outputs).map { Float($0 % 5) - 2 }
            let residual: [Float] = (0..<(rows * outputs)).map { Float($0 % 3) }
            let linear = QuantizedLinear(weight: w, bias: b, outputs: outputs, inputs: inputs, kernel: kernel)
            let quantized = QuantizedRows(rows: rows, inputs: inputs)
            quantized.quantize(x, rows: rows, inputs: inputs, lda: inputs)
            for (accumulate, activation) in [(false, nil), (true, nil), (false, Activation.quickGELU)] {
                var y = residual + [Float](repeating: 7, count: outputs)
                runProduct(
                    x, rows: rows, lda: inputs, .int16(linear), into: &y, accumulate: accumulate,
                    activation: activation, quantized: quantized, pool: pool)
                for r in 0..<rows {
                    // The documented quantisation, recomputed independently (the rounding inputs in Float, as
                    // documented, so that ties fall the same way).
                    let row = x[(r * inputs)..<((r + 1) * inputs)]
                    let even = (inputs + 1) / 2 * 2
                    let limit = Float(Int((Double(Int(Int32.max) / even)).squareRoot()))
                    let step = row.map { abs($0) }.max()! / limit
                    for o in 0..<outputs {
                        let weights = w[(o * inputs)..<((o + 1) * inputs)]
                        let scale = weights.map { abs($0) }.max()! / limit
                        var dequantised = Double(b[o]), exact = Double(b[o])
                        for k in 0..<inputs {
                            let u = Double((x[r * inputs + k] * (1 / step)).rounded())
                            let q = Double(max(-limit, min(limit, (w[o * inputs + k] * (1 / scale)).rounded())))
                            dequantised += Double(step) * u * Double(scale) * q
                            exact += Double(x[r * inputs + k]) * Double(w[o * inputs + k])
                        }
                        if accumulate {
                            dequantised += Double(residual[r * outputs + o])
                            exact += Double(residual[r * outputs + o])
                        }
                        if activation != nil {
                            dequantised /= 1 + Foundation.exp(-1.702 * dequantised)
                            exact /= 1 + Foundation.exp(-1.702 * exact)
                        }
                        let got = Double(y[r * outputs + o])
                        #expect(
                            abs(got - dequantised) < 1e-4 * max(1, abs(dequantised)),
                            "\(rows)×\(inputs)×\(outputs) [\(r), \(o)]: \(got) vs \(dequantised)")
                        // Each term is off by at most half a step of each operand (|x| ≤ 1.2, |w| ≤ 1.1 here).
                        let bound = Double(inputs) * (Double(step) / 2 * 1.1 + Double(scale) / 2 * 1.2) + 1e-4
                        #expect(abs(got - exact) <= bound, "[\(r), \(o)]: \(got) vs exact \(exact), bound \(bound)")
                    }
                }
                #expect(y[(rows * outputs)...].allSatisfy { $0 == 7 }, "\(rows)×\(outputs): wrote past the end")
            }
        }
    }

    /// The largest activations against the largest weights over a long row must not overflow the Int32 sums.
    static func extremeValuesDoNotOverflow(kernel: QuantizedKernel) {
        let inputs = 4097
        let x = [Float](repeating: 3, count: inputs) + [Float](repeating: -3, count: inputs)
        let w: [Float] = [Float](repeating: 0.5, count: inputs) + [Float](repeating: -0.5, count: inputs)
        let linear = QuantizedLinear(weight: w, bias: nil, outputs: 2, inputs: inputs, kernel: kernel)
        let quantized = QuantizedRows(rows: 2, inputs: inputs)
        quantized.quantize(x, rows: 2, inputs: inputs, lda: inputs)
        var y = [Float](repeating: 0, count: 4)
        y.withUnsafeMutableBufferPointer { buffer in
            QuantizedGEMM.multiply(
                quantized, rows: 2, linear, panels: 0..<1,
                output: ProductOutput(pointer: buffer.baseAddress!, stride: 2))
        }
        let exact = Float(inputs) * 1.5
        for (got, expected) in zip(y, [exact, -exact, -exact, exact]) {
            #expect(abs(got - expected) <= 1e-3 * exact, "\(y)")
        }
    }

    /// The VNNI kernel computes the same integer sums as the AVX2 one, so their products are equal bit for bit,
    /// for every row count from 1 to 23 (whole, partial and tail blocks of both kernels) and panels cut short.
    @Test(
        .enabled(if: QuantizedKernel.avx512vnni.isAvailable, "this CPU lacks AVX-512 VNNI; the AVX2 kernel is tested"))
    func vnniKernelEqualsTheAVX2KernelBitForBit() {
        let pool = WorkerPool(threads: 2)
        let inputs = 771
        let outputs = 40
        let w: [Float] = (0..<(outputs * inputs)).map { Float(($0 * 7919) % 2003) / 1001 - 1 }
        let b: [Float] = (0..<outputs).map { Float($0) / 7 - 3 }
        let vnni = QuantizedLinear(weight: w, bias: b, outputs: outputs, inputs: inputs, kernel: .avx512vnni)
        let avx2 = QuantizedLinear(weight: w, bias: b, outputs: outputs, inputs: inputs, kernel: .avx2)
        for rows in 1...23 {
            let x: [Float] = (0..<(rows * inputs)).map { Float(($0 * 104_729) % 4001) / 800 - 2.5 }
            let quantized = QuantizedRows(rows: rows, inputs: inputs)
            quantized.quantize(x, rows: rows, inputs: inputs, lda: inputs)
            var results: [[Float]] = []
            for linear in [vnni, avx2] {
                var y = [Float](repeating: 0.25, count: rows * outputs)
                runProduct(
                    x, rows: rows, lda: inputs, .int16(linear), into: &y, accumulate: true, activation: .gelu,
                    quantized: quantized, pool: pool)
                results.append(y)
            }
            #expect(results[0] == results[1], "\(rows) rows: the kernels differ")
        }
    }

    /// CLIPCAM_INT8_KERNEL picks a kernel; a name that is no kernel, or one this CPU cannot run, is an error that
    /// names the value and the kernels to use instead.
    @Test func kernelChoiceFromTheEnvironment() throws {
        #expect(try QuantizedKernel.selected(environment: [:]) == QuantizedKernel.preferred)
        #expect(try QuantizedKernel.selected(environment: ["CLIPCAM_INT8_KERNEL": ""]) == QuantizedKernel.preferred)
        for kernel in QuantizedKernel.allCases where kernel.isAvailable {
            #expect(try QuantizedKernel.selected(environment: ["CLIPCAM_INT8_KERNEL": kernel.rawValue]) == kernel)
        }
        let available = QuantizedKernel.allCases.filter(\.isAvailable).map(\.rawValue).joined(separator: ", ")
        do {
            _ = try QuantizedKernel.selected(environment: ["CLIPCAM_INT8_KERNEL": "sse2"])
            Issue.record("an unknown kernel name was accepted")
        } catch {
            #expect(
                "\(error)" == "CLIPCAM_INT8_KERNEL=sse2 names no int8 kernel; use one of: \(available) (or unset it)")
        }
        for kernel in QuantizedKernel.allCases where !kernel.isAvailable {
            do {
                _ = try QuantizedKernel.selected(environment: ["CLIPCAM_INT8_KERNEL": kernel.rawValue])
                Issue.record("\(kernel.rawValue) was accepted on a CPU that cannot run it")
            } catch {
                let text = "\(error)"
                #expect(text.hasPrefix("CLIPCAM_INT8_KERNEL=\(kernel.rawValue): "), "\(text)")
                #expect(text.hasSuffix("; use one of: \(available) (or unset it)"), "\(text)")
            }
        }
    }

    /// The integer paths' image embeddings stay within their documented cosine of fp32 on every fixture image, for
    /// both fixture models (whose weights of standard deviation 0.3 make attention very sharp), and the fp32 text
    /// tower is untouched: int16 within 0.99999; int8 within 0.997 (measured here 0.9977 and 0.9980; over varied
    /// images 0.9980 and 0.9984 by scripts/quantization_error.py, 0.9983 and 0.9989 by `clipcam bench`; ≥ 0.999 on
    /// random ViT-B/32 and ViT-B/16, `RandomModelPrecisionTests`).
    @Test(arguments: Fixtures.modelNames, [Precision.int16, .int8])
    func imageEmbeddingsStayCloseToFP32(model name: String, precision: Precision) throws {
        let bound = precision == .int16 ? 0.999_99 : 0.997
        let reference = try Reference(model: name)
        let float = try CLIPModel(directory: Fixtures.model(name), threads: 2)
        let reduced = try CLIPModel(directory: Fixtures.model(name), threads: 2, precision: precision)
        var worst = 1.0
        for (index, pixels) in reference.pixelValues.enumerated() {
            let similarity = cosine(reduced.encodeImage(pixels), float.encodeImage(pixels))
            worst = min(worst, similarity)
            #expect(
                similarity >= bound,
                "\(name) \(precision.rawValue) image \(reference.imageNames[index]): cosine \(similarity)")
        }
        print("\(name): \(precision.rawValue) image embeddings, min cosine to fp32 \(worst)")
        let end = Int32(float.configuration.text.eosTokenID)
        let ids: [Int32] = [end - 1, 320, 1125, 539, end]
        #expect(reduced.encodeText(ids: ids) == float.encodeText(ids: ids))
    }
}
