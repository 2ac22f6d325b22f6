// The integer matrix kernel of `--precision int8`: C = A · Wᵀ with W quantised once at load per output channel
// and A quantised per row (token) just before each product, both to 16-bit integers, integer dot products
// accumulated in Int32, and the float result rebuilt as each block leaves the registers (then bias, residual add
// and activation as in PackedGEMM).
//
// Levels: for a product over K inputs, L = ⌊√((2³¹ − 1) / K')⌋ with K' = K rounded up to even (1 672 for
// K = 768, 836 for K = 3 072), so that no Int32 sum of K products of values within ±L can overflow. That is about
// 11.7 and 10.7 bits (and a sign) for each operand.
// Weights: w ≈ s_o · q with q in −L…L and s_o = max|W[o]| / L (one scale per output channel).
// Rows:    x ≈ t_r · u with u in −L…L and t_r = max|x_r| / L (one scale per token).
// Then Σ_k x_k w_k ≈ s_o · t_r · Σ_k u_k q_k.
//
// On x86-64 the dot products are AVX2's vpmaddwd, which multiplies 16 pairs of 16-bit integers and adds adjacent
// products into 8 Int32: 16 multiply-adds per instruction against the 8 of a float FMA, with the weights in half
// the bytes. On CPUs with AVX-512 VNNI, vpdpwssd does the same and accumulates in one instruction (VNNIKernels,
// 10 × 16 blocks); QuantizedKernel picks the kernel. Both compute the same exact sums.
// Why not 8 bits: with 8-bit weights (±127, 16-bit activations) the smallest fixture model's image embeddings drop
// to cosine 0.9986 against fp32, and with vpmaddubsw's 8-bit activations and 7-bit weights (the most it takes
// without saturating) to 0.9917; the bound is 0.999. Other architectures run the same integer arithmetic in plain
// Swift, with identical results.
import Foundation

#if arch(x86_64)
    import _Builtin_intrinsics.intel
    import VNNIKernels
#endif

/// Quantisation levels for products over `inputs` values: values within ±L keep every Int32 sum exact.
func quantizationLevels(inputs: Int) -> Int {
    let even = max((inputs + 1) / 2 * 2, 2)
    return min(32_767, Int(Double(Int(Int32.max) / even).squareRoot()))
}

/// A linear layer in integer form: panels of 16 output channels; within a panel, for each pair of inputs, 64
/// bytes: channels 0–7 then 8–15, each channel's 2 weights side by side (vpmaddwd's operand layout).
final class QuantizedLinear {
    static let width = 16
    private(set) var inputs: Int
    private(set) var outputs: Int
    /// Input pairs (inputs rounded up; the extra weight is 0).
    private(set) var pairs: Int
    private(set) var panels: Int
    let weights: UnsafeMutablePointer<Int16>
    /// Int16 values allocated for the weights, and floats for the scales.
    private let capacity: Int
    private let channelCapacity: Int
    /// s_o of each channel, padded to whole panels.
    let scales: UnsafeMutablePointer<Float>
    /// Padded like the scales, or nil.
    let bias: UnsafeMutablePointer<Float>?
    /// The instructions its products run on.
    let kernel: QuantizedKernel

    convenience init(
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outputs: Int, inputs: Int,
        kernel: QuantizedKernel = .preferred
    ) {
        self.init(outputs: outputs, inputs: inputs, bias: bias, kernel: kernel)
        let levels = Float(quantizationLevels(inputs: inputs))
        for output in 0..<outputs {
            let row = weight + output * inputs
            var largest: Float = 0
            for k in 0..<inputs { largest = max(largest, abs(row[k])) }
            let scale = largest > 0 ? largest / levels : 1
            let inverse = 1 / scale
            let base = channel(output)
            for k in 0..<inputs {
                base[(k / 2) * 32 + k % 2] = Int16(max(-levels, min(levels, (row[k] * inverse).rounded())))
            }
            scales[output] = scale
        }
    }

    /// Room for up to `outputs` × `inputs` weights, all zero, and the padded bias; `fill` gives the weights.
    init(outputs: Int, inputs: Int, bias: UnsafePointer<Float>? = nil, kernel: QuantizedKernel) {
        precondition(kernel.isAvailable, "int8 kernel \(kernel.rawValue) cannot run here")
        self.kernel = kernel
        self.inputs = inputs
        self.outputs = outputs
        pairs = (inputs + 1) / 2
        panels = (outputs + Self.width - 1) / Self.width
        capacity = max(panels * pairs * 32, 1)
        weights = allocateWeights(bytes: capacity * 2).bindMemory(to: Int16.self, capacity: capacity)
        weights.initialize(repeating: 0, count: capacity)
        channelCapacity = panels * Self.width
        scales = .allocate(capacity: channelCapacity)
        scales.initialize(repeating: 0, count: channelCapacity)
        if let bias {
            let padded = UnsafeMutablePointer<Float>.allocate(capacity: channelCapacity)
            padded.initialize(repeating: 0, count: channelCapacity)
            padded.update(from: bias, count: outputs)
            self.bias = padded
        } else {
            self.bias = nil
        }
    }

    /// Makes this the layer of integer weights `values` (output o's input k at `values[o · inputs + k]`, within
    /// ±32 767) with one scale per output channel, within the room it was made with: the 8-bit path's weights in
    /// this kernel's layout.
    func fill(values: UnsafePointer<Int8>, scales: UnsafePointer<Float>, outputs: Int, inputs: Int) {
        let pairs = (inputs + 1) / 2
        let panels = (outputs + Self.width - 1) / Self.width
        precondition(panels * pairs * 32 <= capacity && panels * Self.width <= channelCapacity, "layer too small")
        self.inputs = inputs
        self.outputs = outputs
        self.pairs = pairs
        self.panels = panels
        weights.update(repeating: 0, count: panels * pairs * 32)
        self.scales.update(repeating: 0, count: panels * Self.width)
        for output in 0..<outputs {
            let row = values + output * inputs
            let base = channel(output)
            for k in 0..<inputs { base[(k / 2) * 32 + k % 2] = Int16(row[k]) }
            self.scales[output] = scales[output]
        }
    }

    /// Where output channel `output`'s first weight goes: its pair k/2 is 32 values further on, k % 2 within it.
    private func channel(_ output: Int) -> UnsafeMutablePointer<Int16> {
        let lane = output % Self.width
        return weights + (output / Self.width) * pairs * 32 + (lane / 8) * 16 + (lane % 8) * 2
    }

    deinit {
        free(weights)
        scales.deallocate()
        bias?.deallocate()
    }
}

/// Rows of activations quantised to 16-bit integers, for the integer kernel. Sized once for the largest product.
final class QuantizedRows {
    let capacity: Int
    /// [rows × stride] values; a row's padding to a whole pair is 0.
    let values: UnsafeMutablePointer<Int16>
    var stride = 0
    /// t_r of each row.
    let step: UnsafeMutablePointer<Float>

    init(rows: Int, inputs: Int) {
        let stride = (inputs + 1) / 2 * 2
        capacity = max(rows * stride, 1)
        values = UnsafeMutableRawPointer.allocate(byteCount: capacity * 2, alignment: 64)
            .bindMemory(to: Int16.self, capacity: capacity)
        values.initialize(repeating: 0, count: capacity)
        step = .allocate(capacity: max(rows, 1))
        step.initialize(repeating: 0, count: max(rows, 1))
    }

    deinit {
        values.deallocate()
        step.deallocate()
    }

    /// Quantises `rows` rows of `inputs` floats, `lda` apart.
    func quantize(_ x: UnsafePointer<Float>, rows: Int, inputs: Int, lda: Int) {
        stride = (inputs + 1) / 2 * 2
        precondition(rows * stride <= capacity, "quantised activation buffer too small")
        let limit = Float(quantizationLevels(inputs: inputs))
        for row in 0..<rows {
            let input = x + row * lda
            let raw = UnsafeRawPointer(input)
            var largestLanes = Lanes()
            var k = 0
            while k + 8 <= inputs {
                let v = raw.loadUnaligned(fromByteOffset: k * 4, as: Lanes.self)
                let magnitude = v.replacing(with: -v, where: v .< 0)
                largestLanes = largestLanes.replacing(with: magnitude, where: magnitude .> largestLanes)
                k += 8
            }
            var largest = largestLanes.max()
            while k < inputs {
                largest = max(largest, abs(input[k]))
                k += 1
            }
            let step = largest / limit
            let inverse = step > 0 ? 1 / step : 0
            self.step[row] = step
            let output = values + row * stride
            for k in 0..<inputs { output[k] = Int16((input[k] * inverse).rounded()) }
            if stride > inputs { output[inputs] = 0 }
        }
    }
}

enum QuantizedGEMM {
    /// Rows of a block: 6 × 16 keeps twelve accumulators, two weight vectors, a broadcast and a product in AVX2's
    /// 16 registers (measured 5 % faster than 5 × 16); a 50-token image is 8 blocks and a block of 2.
    static let blockRows = 6
    /// Rows of a VNNI block (VNNIKernels.block10): a 50-token image is 5 blocks.
    static let vnniBlockRows = 10

    /// C = A · Wᵀ over `panels` of W for the rows already quantised into `a`, one thread.
    static func multiply(_ a: QuantizedRows, rows: Int, _ w: QuantizedLinear, panels: Range<Int>, output: ProductOutput)
    {
        for panel in panels {
            let columns = min(QuantizedLinear.width, w.outputs - panel * QuantizedLinear.width)
            var row = 0
            while row < rows {
                let count = min(w.kernel == .avx512vnni ? vnniBlockRows : blockRows, rows - row)
                let target = output.pointer + row * output.stride + panel * QuantizedLinear.width
                #if arch(x86_64)
                    if w.kernel == .avx512vnni {
                        vnniBlock(
                            a, row: row, rows: count, w, panel: panel, output: target, stride: output.stride,
                            columns: columns, accumulate: output.accumulate, activation: output.activation)
                        row += count
                        continue
                    }
                #endif
                if count <= 2 {
                    pair(
                        a, row: row, rows: count, w, panel: panel, output: target, stride: output.stride,
                        columns: columns, accumulate: output.accumulate, activation: output.activation)
                } else {
                    block(
                        a, row: row, rows: count, w, panel: panel, output: target, stride: output.stride,
                        columns: columns, accumulate: output.accumulate, activation: output.activation)
                }
                row += count
            }
        }
    }

    /// Rebuilds the float results of one row of a block from its integer dot products and writes them.
    @inline(__always)
    static func finishRow(
        _ low: SIMD8<Int32>, _ high: SIMD8<Int32>, _ a: QuantizedRows, row: Int, _ w: QuantizedLinear, panel: Int,
        into target: UnsafeMutablePointer<Float>, columns: Int, accumulate: Bool, activation: Activation?
    ) {
        let channel = panel * QuantizedLinear.width
        let scales = UnsafeRawPointer(w.scales + channel)
        let step = Lanes(repeating: a.step[row])
        var low = Lanes(low) * (scales.loadUnaligned(as: Lanes.self) * step)
        var high = Lanes(high) * (scales.loadUnaligned(fromByteOffset: 32, as: Lanes.self) * step)
        if let bias = w.bias {
            low += UnsafeRawPointer(bias + channel).loadUnaligned(as: Lanes.self)
            high += UnsafeRawPointer(bias + channel).loadUnaligned(fromByteOffset: 32, as: Lanes.self)
        }
        PackedGEMM.finish(low, high, into: target, columns: columns, accumulate: accumulate, activation: activation)
    }

    #if arch(x86_64)
        /// One block of up to 10 rows × 16 channels on the VNNI kernel: its Int32 sums pass through a small buffer on
        /// the stack, then are finished as in `block`.
        @inline(__always)
        static func vnniBlock(
            _ a: QuantizedRows, row: Int, rows: Int, _ w: QuantizedLinear, panel: Int,
            output: UnsafeMutablePointer<Float>, stride: Int, columns: Int, accumulate: Bool, activation: Activation?
        ) {
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: QuantizedLinear.width * vnniBlockRows) { buffer in
                let raw = buffer.baseAddress!
                let sums = UnsafeRawPointer(raw)
                let base = UnsafeRawPointer(a.values + row * a.stride)
                let panelBase = UnsafeRawPointer(w.weights + panel * w.pairs * 32)
                if rows <= 2 {
                    VNNIKernels.block2(
                        base, count: rows, rowBytes: a.stride * 2, panel: panelBase, pairs: w.pairs, sums: raw)
                } else {
                    VNNIKernels.block10(
                        base, count: rows, rowBytes: a.stride * 2, panel: panelBase, pairs: w.pairs, sums: raw)
                }
                for index in 0..<rows {
                    finishRow(
                        sums.loadUnaligned(fromByteOffset: index * 64, as: SIMD8<Int32>.self),
                        sums.loadUnaligned(fromByteOffset: index * 64 + 32, as: SIMD8<Int32>.self), a,
                        row: row + index, w, panel: panel, into: output + index * stride, columns: columns,
                        accumulate: accumulate, activation: activation)
                }
            }
        }

        /// One block of up to 6 rows × 16 channels. Missing rows repeat the last row (computed, not stored).
        @inline(__always)
        static func block(
            _ a: QuantizedRows, row: Int, rows: Int, _ w: QuantizedLinear, panel: Int,
            output: UnsafeMutablePointer<Float>, stride: Int, columns: Int, accumulate: Bool, activation: Activation?
        ) {
            let rowBytes = a.stride * 2
            let base = UnsafeRawPointer(a.values + row * a.stride)
            let a0 = base
            let a1 = base + min(1, rows - 1) * rowBytes
            let a2 = base + min(2, rows - 1) * rowBytes
            let a3 = base + min(3, rows - 1) * rowBytes
            let a4 = base + min(4, rows - 1) * rowBytes
            let a5 = base + min(5, rows - 1) * rowBytes
            let weights = UnsafeRawPointer(w.weights + panel * w.pairs * 32)
            var c00 = _mm256_setzero_si256(), c01 = _mm256_setzero_si256()
            var c10 = _mm256_setzero_si256(), c11 = _mm256_setzero_si256()
            var c20 = _mm256_setzero_si256(), c21 = _mm256_setzero_si256()
            var c30 = _mm256_setzero_si256(), c31 = _mm256_setzero_si256()
            var c40 = _mm256_setzero_si256(), c41 = _mm256_setzero_si256()
            var c50 = _mm256_setzero_si256(), c51 = _mm256_setzero_si256()
            for pair in 0..<w.pairs {
                let w0 = weights.load(fromByteOffset: pair * 64, as: __m256i.self)
                let w1 = weights.load(fromByteOffset: pair * 64 + 32, as: __m256i.self)
                let byte = pair * 4
                var x = _mm256_set1_epi32(a0.loadUnaligned(fromByteOffset: byte, as: Int32.self))
                c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(x, w0))
                c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(x, w1))
                x = _mm256_set1_epi32(a1.loadUnaligned(fromByteOffset: byte, as: Int32.self))
                c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(x, w0))
                c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(x, w1))
                x = _mm256_set1_epi32(a2.loadUnaligned(fromByteOffset: byte, as: Int32.self))
                c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(x, w0))
                c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(x, w1))
                x = _mm256_set1_epi32(a3.loadUnaligned(fromByteOffset: byte, as: Int32.self))
                c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(x, w0))
                c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(x, w1))
                x = _mm256_set1_epi32(a4.loadUnaligned(fromByteOffset: byte, as: Int32.self))
                c40 = _mm256_add_epi32(c40, _mm256_madd_epi16(x, w0))
                c41 = _mm256_add_epi32(c41, _mm256_madd_epi16(x, w1))
                x = _mm256_set1_epi32(a5.loadUnaligned(fromByteOffset: byte, as: Int32.self))
                c50 = _mm256_add_epi32(c50, _mm256_madd_epi16(x, w0))
                c51 = _mm256_add_epi32(c51, _mm256_madd_epi16(x, w1))
            }
            func finish(_ low: __m256i, _ high: __m256i, _ index: Int) {
                finishRow(
                    unsafeBitCast(low, to: SIMD8<Int32>.self), unsafeBitCast(high, to: SIMD8<Int32>.self), a,
                    row: row + index, w, panel: panel, into: output + index * stride, columns: columns,
                    accumulate: accumulate, activation: activation)
            }
            finish(c00, c01, 0)
            if rows > 1 { finish(c10, c11, 1) }
            if rows > 2 { finish(c20, c21, 2) }
            if rows > 3 { finish(c30, c31, 3) }
            if rows > 4 { finish(c40, c41, 4) }
            if rows > 5 { finish(c50, c51, 5) }
        }

        /// One block of up to 2 rows × 16 channels (the last rows of a product). A missing second row repeats the
        /// first (not stored).
        @inline(__always)
        static func pair(
            _ a: QuantizedRows, row: Int, rows: Int, _ w: QuantizedLinear, panel: Int,
            output: UnsafeMutablePointer<Float>, stride: Int, columns: Int, accumulate: Bool, activation: Activation?
        ) {
            let base = UnsafeRawPointer(a.values + row * a.stride)
            let a0 = base
            let a1 = base + min(1, rows - 1) * a.stride * 2
            let weights = UnsafeRawPointer(w.weights + panel * w.pairs * 32)
            var c00 = _mm256_setzero_si256(), c01 = _mm256_setzero_si256()
            var c10 = _mm256_setzero_si256(), c11 = _mm256_setzero_si256()
            for pair in 0..<w.pairs {
                let w0 = weights.load(fromByteOffset: pair * 64, as: __m256i.self)
                let w1 = weights.load(fromByteOffset: pair * 64 + 32, as: __m256i.self)
                var x = _mm256_set1_epi32(a0.loadUnaligned(fromByteOffset: pair * 4, as: Int32.self))
                c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(x, w0))
                c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(x, w1))
                x = _mm256_set1_epi32(a1.loadUnaligned(fromByteOffset: pair * 4, as: Int32.self))
                c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(x, w0))
                c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(x, w1))
            }
            finishRow(
                unsafeBitCast(c00, to: SIMD8<Int32>.self), unsafeBitCast(c01, to: SIMD8<Int32>.self), a, row: row, w,
                panel: panel, into: output, columns: columns, accumulate: accumulate, activation: activation)
            if rows > 1 {
                finishRow(
                    unsafeBitCast(c10, to: SIMD8<Int32>.self), unsafeBitCast(c11, to: SIMD8<Int32>.self), a,
                    row: row + 1, w, panel: panel, into: output + stride, columns: columns, accumulate: accumulate,
                    activation: activation)
            }
        }
    #else
        /// The last rows of a product: the same arithmetic as `block`.
        static func pair(
            _ a: QuantizedRows, row: Int, rows: Int, _ w: QuantizedLinear, panel: Int,
            output: UnsafeMutablePointer<Float>, stride: Int, columns: Int, accumulate: Bool, activation: Activation?
        ) {
            block(
                a, row: row, rows: rows, w, panel: panel, output: output, stride: stride, columns: columns,
                accumulate: accumulate, activation: activation)
        }

        /// One block of rows × 16 channels, in plain integer arithmetic.
        static func block(
            _ a: QuantizedRows, row: Int, rows: Int, _ w: QuantizedLinear, panel: Int,
            output: UnsafeMutablePointer<Float>, stride: Int, columns: Int, accumulate: Bool, activation: Activation?
        ) {
            let weights = w.weights + panel * w.pairs * 32
            for index in 0..<rows {
                let values = a.values + (row + index) * a.stride
                var sums = [Int32](repeating: 0, count: 16)
                for pair in 0..<w.pairs {
                    for lane in 0..<16 {
                        let group = weights + pair * 32 + (lane / 8) * 16 + (lane % 8) * 2
                        for j in 0..<2 { sums[lane] &+= Int32(values[pair * 2 + j]) * Int32(group[j]) }
                    }
                }
                finishRow(
                    SIMD8(sums[0..<8]), SIMD8(sums[8..<16]), a, row: row + index, w, panel: panel,
                    into: output + index * stride, columns: columns, accumulate: accumulate, activation: activation)
            }
        }
    #endif
}
