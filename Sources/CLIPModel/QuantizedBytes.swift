// The 8-bit products of `--precision int8`: C = A · Wᵀ with W quantised once at load to signed bytes per output
// channel and A quantised per row (token) to unsigned bytes with a zero point, just before each product (ONNX
// Runtime's dynamic quantisation, quantize_dynamic with QInt8 weights, at a finer granularity: ONNX Runtime keeps
// one scale for a whole weight tensor and one for a whole activation matrix).
//
// Weights: w ≈ s_o · q with q in −127…127 and s_o = max|W[o]| / 127 (one scale per output channel).
// Rows:    x ≈ t_r · (u − z_r) with u in 0…255, t_r = (max(x_r, 0) − min(x_r, 0)) / 255 and the zero point
//          z_r = round(−min(x_r, 0) / t_r), so that 0 is exact.
// Then Σ_k x_k w_k ≈ t_r · s_o · (Σ_k u_k q_k − z_r · Σ_k q_k): the integer sum is exact in Int32 (|u − z| ≤ 255,
// |q| ≤ 127: for up to 66 311 inputs; the MLP's 3 072 at most in CLIP, 65 536 in any model clipcam loads).
//
// Error (cosine of the image embeddings to fp32, smallest over 15 varied images; simulated on the transformers
// model by scripts/quantization_error.py, confirmed by QuantizedTests and `clipcam bench`): random ViT-B/32 0.99974,
// random ViT-B/16 (see README), the fixture models 0.9981 (tiny-gelu-f16) and 0.9984 (tiny-quickgelu-f32), whose
// weights of standard deviation 0.3 make attention very sharp. The 16-bit path (`--precision int16`) stays within
// 0.99999 of fp32 on all of them.
//
// Kernels, all computing the same exact Int32 sums:
// - AVX-512 VNNI (VNNIKernels.ByteKernels): vpdpbusd on 512-bit registers, 5 rows × 64 channels.
// - elsewhere (AVX2, other architectures): the same integers held in 16 bits and multiplied by the 16-bit path's
//   kernels (vpmaddwd + vpaddd): Σ_k (u_k − z_r) q_k is the same sum. AVX2's byte product, vpmaddubsw, adds pairs of
//   u8 · s8 products into 16 bits with saturation (255 · 127 · 2 > 32 767), so it would need 7-bit weights or
//   activations (as ONNX Runtime does on AVX2) and give other results; the 16-bit form runs at the 16-bit path's
//   speed instead, with the same results as the VNNI kernel.
// The patch embedding, whose product length (3 · patch²) has no such bound, runs on the 16-bit path.
import Foundation

#if arch(x86_64)
    import VNNIKernels
#endif

/// The 8-bit scheme's numbers, shared by every kernel so that they all quantise alike.
enum ByteQuantization {
    /// The largest weight magnitude.
    static let weightLevels: Float = 127
    /// The longest product whose Int32 sums are exact: 255 · 127 · K ≤ 2³¹ − 1.
    static let maxInputs = Int(Int32.max) / (255 * 127)

    /// A row's scale t, its inverse and its zero point z, from the row's smallest and largest values.
    @inline(__always)
    static func rowParameters(low: Float, high: Float) -> (scale: Float, inverse: Float, zero: Int32) {
        let low = min(low, 0)
        let high = max(high, 0)
        var scale = (high - low) / 255
        if !(scale > 0 && scale.isFinite) { scale = 1 }
        let inverse = 1 / scale
        let zero = (-low * inverse).rounded(.toNearestOrEven)
        return (scale, inverse, zero.isNaN ? 0 : Int32(max(0, min(255, zero))))
    }

    /// u = clamp(round(x · inverse) + z, 0, 255), rounding half to even (as the VNNI kernel's vcvtps2dq).
    @inline(__always)
    static func quantize(_ x: Float, inverse: Float, zero: Int32) -> Int32 {
        let scaled = (x * inverse).rounded(.toNearestOrEven)
        guard !scaled.isNaN else { return 0 }
        return max(0, min(255, Int32(max(-512, min(512, scaled))) + zero))
    }
}

/// A linear layer in 8-bit form. On the VNNI kernel: panels of 64 output channels, for each quad of inputs 256
/// bytes (channel j's four weights at 4j ..< 4j + 4, VNNIKernels.ByteKernels' layout), with the column sums Σ_k q_ok;
/// on the others, the same integers in the 16-bit kernels' layout (`wide`).
final class ByteLinear {
    static let width = 64
    let inputs: Int
    let outputs: Int
    /// Input quads (inputs rounded up to a multiple of 4; the extra weights are 0).
    let quads: Int
    /// The VNNI panels, or nil.
    let packed: UnsafeMutableRawPointer?
    /// Σ_k q_ok per channel, padded to whole panels of 64.
    let columnSums: UnsafeMutablePointer<Int32>
    /// s_o per channel, padded like the column sums.
    let scales: UnsafeMutablePointer<Float>
    /// Padded like the scales, or nil.
    let bias: UnsafeMutablePointer<Float>?
    /// The same layer for the 16-bit kernels (CPUs without AVX-512 VNNI), or nil.
    let wide: QuantizedLinear?
    let kernel: QuantizedKernel

    /// Panels of this layer's kernel and their width.
    var panels: Int { wide?.panels ?? (outputs + Self.width - 1) / Self.width }
    var panelWidth: Int { wide == nil ? Self.width : QuantizedLinear.width }

    init(
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outputs: Int, inputs: Int,
        kernel: QuantizedKernel = .preferred
    ) {
        precondition(kernel.isAvailable, "int8 kernel \(kernel.rawValue) cannot run here")
        precondition(
            inputs <= ByteQuantization.maxInputs, "8-bit products are exact up to \(ByteQuantization.maxInputs) inputs")
        self.inputs = inputs
        self.outputs = outputs
        self.kernel = kernel
        quads = (inputs + 3) / 4
        let channels = (outputs + Self.width - 1) / Self.width * Self.width
        columnSums = .allocate(capacity: channels)
        columnSums.initialize(repeating: 0, count: channels)
        scales = .allocate(capacity: channels)
        scales.initialize(repeating: 0, count: channels)
        if let bias {
            let padded = UnsafeMutablePointer<Float>.allocate(capacity: channels)
            padded.initialize(repeating: 0, count: channels)
            padded.update(from: bias, count: outputs)
            self.bias = padded
        } else {
            self.bias = nil
        }

        // Quantise every channel.
        let values = UnsafeMutablePointer<Int8>.allocate(capacity: max(outputs * inputs, 1))
        defer { values.deallocate() }
        for output in 0..<outputs {
            let row = weight + output * inputs
            var largest: Float = 0
            for k in 0..<inputs { largest = max(largest, abs(row[k])) }
            let scale = largest > 0 ? largest / ByteQuantization.weightLevels : 1
            let inverse = 1 / scale
            var sum: Int32 = 0
            for k in 0..<inputs {
                let level = max(-127, min(127, (row[k] * inverse).rounded(.toNearestOrEven)))
                let q = Int8(level.isNaN ? 0 : level)
                values[output * inputs + k] = q
                sum += Int32(q)
            }
            scales[output] = scale
            columnSums[output] = sum
        }

        if kernel == .avx512vnni {
            let bytes = channels * quads * 4
            let panels = allocateWeights(bytes: bytes)
            panels.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
            for output in 0..<outputs {
                let base = panels + (output / Self.width) * quads * 256 + (output % Self.width) * 4
                let row = values + output * inputs
                for k in 0..<inputs { base.storeBytes(of: row[k], toByteOffset: (k / 4) * 256 + k % 4, as: Int8.self) }
            }
            packed = panels
            wide = nil
        } else {
            packed = nil
            wide = QuantizedLinear(
                values: values, scales: scales, bias: bias, outputs: outputs, inputs: inputs, kernel: kernel)
        }
    }

    deinit {
        if let packed { free(packed) }
        columnSums.deallocate()
        scales.deallocate()
        bias?.deallocate()
    }
}

/// Rows of activations quantised to bytes with a scale and zero point each, for the 8-bit kernels. Sized once for
/// the largest product.
final class ByteRows {
    let capacity: Int
    /// [rows × stride] bytes u (VNNI kernel); a row's padding to a whole quad is 0.
    let bytes: UnsafeMutablePointer<UInt8>
    /// Bytes between rows: the inputs rounded up to a multiple of 4.
    private(set) var stride = 0
    /// z_r of each row.
    let zeros: UnsafeMutablePointer<Int32>
    /// t_r of each row.
    let scales: UnsafeMutablePointer<Float>
    /// The same rows for the 16-bit kernels, u − z as Int16 with t as the step (CPUs without AVX-512 VNNI), or nil.
    let wide: QuantizedRows?
    let kernel: QuantizedKernel

    init(rows: Int, inputs: Int, kernel: QuantizedKernel) {
        self.kernel = kernel
        capacity = max(rows * ((inputs + 3) / 4 * 4), 1)
        bytes = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
            .bindMemory(to: UInt8.self, capacity: capacity)
        bytes.initialize(repeating: 0, count: capacity)
        zeros = .allocate(capacity: max(rows, 1))
        zeros.initialize(repeating: 0, count: max(rows, 1))
        scales = .allocate(capacity: max(rows, 1))
        scales.initialize(repeating: 0, count: max(rows, 1))
        wide = kernel == .avx512vnni ? nil : QuantizedRows(rows: rows, inputs: inputs)
    }

    deinit {
        bytes.deallocate()
        zeros.deallocate()
        scales.deallocate()
    }

    /// Quantises `rows` rows of `inputs` floats, `lda` apart.
    func quantize(_ x: UnsafePointer<Float>, rows: Int, inputs: Int, lda: Int) {
        stride = (inputs + 3) / 4 * 4
        precondition(rows * stride <= capacity, "quantised activation buffer too small")
        if let wide {
            wide.stride = (inputs + 1) / 2 * 2
            for row in 0..<rows {
                let input = x + row * lda
                let (low, high) = Self.range(input, count: inputs)
                let (scale, inverse, zero) = ByteQuantization.rowParameters(low: low, high: high)
                zeros[row] = zero
                scales[row] = scale
                wide.step[row] = scale
                let output = wide.values + row * wide.stride
                for k in 0..<inputs {
                    output[k] = Int16(ByteQuantization.quantize(input[k], inverse: inverse, zero: zero) - zero)
                }
                if wide.stride > inputs { output[inputs] = 0 }
            }
            return
        }
        #if arch(x86_64)
            for row in 0..<rows {
                let input = x + row * lda
                let (low, high) = ByteKernels.range(input, count: inputs)
                let (scale, inverse, zero) = ByteQuantization.rowParameters(low: low, high: high)
                zeros[row] = zero
                scales[row] = scale
                let output = bytes + row * stride
                ByteKernels.quantize(input, count: inputs, inverse: inverse, zero: zero, into: output)
                for k in inputs..<stride { output[k] = 0 }
            }
        #endif
    }

    /// The smallest and largest of `count` floats, eight lanes at a time.
    static func range(_ x: UnsafePointer<Float>, count: Int) -> (Float, Float) {
        let raw = UnsafeRawPointer(x)
        var low = Lanes(repeating: .infinity)
        var high = Lanes(repeating: -.infinity)
        var k = 0
        while k + 8 <= count {
            let v = raw.loadUnaligned(fromByteOffset: k * 4, as: Lanes.self)
            low = low.replacing(with: v, where: v .< low)
            high = high.replacing(with: v, where: v .> high)
            k += 8
        }
        var smallest = low.min()
        var largest = high.max()
        while k < count {
            smallest = min(smallest, x[k])
            largest = max(largest, x[k])
            k += 1
        }
        return (smallest, largest)
    }
}

enum ByteGEMM {
    /// C = A · Wᵀ over `panels` of W for the rows already quantised into `a`, one thread.
    static func multiply(_ a: ByteRows, rows: Int, _ w: ByteLinear, panels: Range<Int>, output: ProductOutput) {
        if let wide = w.wide {
            QuantizedGEMM.multiply(a.wide!, rows: rows, wide, panels: panels, output: output)
            return
        }
        #if arch(x86_64)
            let packed = UnsafeRawPointer(w.packed!)
            let activation = output.activation
            let fused = activation == nil || activation == .quickGELU
            for panel in panels {
                let first = panel * ByteLinear.width
                let columns = min(ByteLinear.width, w.outputs - first)
                var row = 0
                while row < rows {
                    let count = min(ByteKernels.blockRows, rows - row)
                    let target = output.pointer + row * output.stride + first
                    ByteKernels.block(
                        a.bytes + row * a.stride, count: count, rowBytes: a.stride,
                        panel: packed + panel * w.quads * 256, quads: w.quads,
                        epilogue: ByteEpilogue(
                            output: target, stride: output.stride, columns: columns,
                            columnSums: w.columnSums + first, columnScales: w.scales + first,
                            bias: w.bias.map { UnsafePointer($0 + first) }, rowZeros: a.zeros + row,
                            rowScales: a.scales + row, accumulate: output.accumulate,
                            quickGELU: activation == .quickGELU))
                    if !fused, let activation {
                        for index in 0..<count {
                            activate(activation, target + index * output.stride, count: columns)
                        }
                    }
                    row += count
                }
            }
        #endif
    }

    /// Applies an activation the VNNI epilogue does not fuse (gelu and its tanh forms) to `count` floats.
    static func activate(_ activation: Activation, _ values: UnsafeMutablePointer<Float>, count: Int) {
        let raw = UnsafeMutableRawPointer(values)
        var k = 0
        while k + 8 <= count {
            let v = raw.loadUnaligned(fromByteOffset: k * 4, as: Lanes.self)
            raw.storeBytes(of: Kernels.activate(activation, v), toByteOffset: k * 4, as: Lanes.self)
            k += 8
        }
        while k < count {
            values[k] = Kernels.activate(activation, values[k])
            k += 1
        }
    }
}
