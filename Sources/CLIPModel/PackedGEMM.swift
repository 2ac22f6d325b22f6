// The encoder's matrix products: C[rows × N] = A[rows × K] · Wᵀ (+ bias, + C, then an activation), with W packed
// once at load into panels for the kernel chosen at run time (FloatKernel): the AVX-512 kernel (AVX512Kernels,
// panels of 32 outputs) or the AVX2 kernel below (panels of 24).
//
// The AVX2 kernel: a 4 × 24 block of C lives in twelve 8-lane registers while K is walked; each step loads three
// vectors of the panel and broadcasts one value of each of the four rows of A. Of the shapes that fit AVX2's 16
// vector registers, this one needs the fewest broadcasts per multiply-add (one per three); measured on a 2-core AMD
// EPYC against a 5 × 16 block on the products of a ViT-B/32 block, it is 12–18 % faster, and alone it runs at
// 100–110 GFLOP/s on one core, about the FMA units' own rate on a Zen 4 (110–115 with register operands only).
// Bias, the residual add and the activation are applied to each block as it leaves the registers. No software
// prefetch: asking for the next panel early was measured 4–7 % slower than leaving the stream to the hardware
// prefetcher (on the Zen 4).
import Foundation

#if arch(x86_64)
    import AVX512Kernels
#endif

typealias Lanes = SIMD8<Float>

/// Panels of `width` outputs (the kernel's: 24 or 32): panel p holds, for each input k, the weights
/// W[width·p ..< width·(p + 1)][k] side by side. Outputs past the last whole panel are zero.
final class PackedPanels {
    /// The kernel whose panels these are.
    let kernel: FloatKernel
    let width: Int
    /// K: floats per output.
    private(set) var depth: Int
    /// N: outputs.
    private(set) var outputs: Int
    var panels: Int { (outputs + width - 1) / width }
    let pointer: UnsafeMutablePointer<Float>
    /// Floats allocated.
    let capacity: Int

    init(depth: Int, outputs: Int, kernel: FloatKernel) {
        precondition(kernel.isAvailable(), "fp32 kernel \(kernel.rawValue) cannot run here")
        self.kernel = kernel
        width = kernel.panelWidth
        self.depth = depth
        self.outputs = outputs
        let count = max((outputs + width - 1) / width * depth * width, 1)
        capacity = count
        pointer = allocateWeights(bytes: count * 4).bindMemory(to: Float.self, capacity: count)
        // Only a partial last panel has slots that packing does not fill.
        if outputs % width != 0 {
            let last = (outputs / width) * depth * width
            (pointer + last).initialize(repeating: 0, count: count - last)
        }
    }

    deinit {
        free(pointer)
    }

    /// Reuses scratch panels for a smaller product (attention over fewer tokens than the most).
    func reshape(depth: Int, outputs: Int) {
        precondition((outputs + width - 1) / width * depth * width <= capacity, "panels too small")
        self.depth = depth
        self.outputs = outputs
    }

    /// Packs W stored [outputs × depth] row-major (PyTorch's Linear layout).
    convenience init(weight: UnsafePointer<Float>, outputs: Int, depth: Int, kernel: FloatKernel) {
        self.init(depth: depth, outputs: outputs, kernel: kernel)
        packRows(weight, rowStride: depth, outputs: 0..<outputs)
    }

    /// Stores rows `outputs` of a matrix whose row o (length `depth`, at `source + o·rowStride`) is output o.
    func packRows(_ source: UnsafePointer<Float>, rowStride: Int, outputs: Range<Int>) {
        for output in outputs {
            let row = source + output * rowStride
            let panel = pointer + (output / width) * depth * width + output % width
            for k in 0..<depth { panel[k * width] = row[k] }
        }
    }

    /// Stores a matrix given input-major: input k's `outputs` values at `source + k·rowStride`, output o at
    /// offset o. This is V in the attention product context = P · V.
    func packColumns(_ source: UnsafePointer<Float>, rowStride: Int) {
        for panel in 0..<panels {
            let first = panel * width
            let count = min(width, outputs - first)
            let target = pointer + panel * depth * width
            for k in 0..<depth {
                (target + k * width).update(from: source + k * rowStride + first, count: count)
            }
        }
    }

    func panel(_ index: Int) -> UnsafePointer<Float> { UnsafePointer(pointer + index * depth * width) }
}

/// A linear layer in run-time form: packed weight and bias padded to whole panels.
/// 64-byte aligned memory for packed weights, released with `free`; large blocks are 2 MiB aligned and offered to
/// the kernel as huge pages, which makes the first touch of the weights and the TLB misses of streaming them
/// several times cheaper.
func allocateWeights(bytes: Int) -> UnsafeMutableRawPointer {
    let huge = 2 << 20
    var raw: UnsafeMutableRawPointer?
    let alignment = bytes >= huge ? huge : 64
    let status = posix_memalign(&raw, alignment, max(bytes, 1))
    guard status == 0, let raw else { fatalError("out of memory for \(bytes) bytes of weights") }
    if bytes >= huge { _ = madvise(raw, bytes / huge * huge, MADV_HUGEPAGE) }
    return raw
}

final class PackedLinear {
    let weight: PackedPanels
    /// One value per output padded with zeros to whole panels, or nil.
    let bias: UnsafeMutablePointer<Float>?

    var inputs: Int { weight.depth }
    var outputs: Int { weight.outputs }

    init(
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outputs: Int, inputs: Int, kernel: FloatKernel
    ) {
        self.weight = PackedPanels(weight: weight, outputs: outputs, depth: inputs, kernel: kernel)
        if let bias {
            let padded = UnsafeMutablePointer<Float>.allocate(capacity: self.weight.panels * self.weight.width)
            padded.initialize(repeating: 0, count: self.weight.panels * self.weight.width)
            padded.update(from: bias, count: outputs)
            self.bias = padded
        } else {
            self.bias = nil
        }
    }

    convenience init(_ weights: LinearWeights, kernel: FloatKernel) {
        self.init(
            weight: weights.weight.pointer, bias: weights.bias?.pointer, outputs: weights.weight.shape[0],
            inputs: weights.weight.shape[1], kernel: kernel)
    }

    deinit {
        bias?.deallocate()
    }
}

/// Where a product's result goes and what happens to it on the way.
struct ProductOutput {
    var pointer: UnsafeMutablePointer<Float>
    /// Floats between rows.
    var stride: Int
    /// Add to what is there (a residual connection) instead of replacing it.
    var accumulate = false
    var activation: Activation?
}

enum PackedGEMM {
    static let blockRows = 4

    /// C = A · Wᵀ over `panels` of W, for `rows` rows of A (`lda` floats apart), one thread, on W's kernel.
    static func multiply(
        _ a: UnsafePointer<Float>, rows: Int, lda: Int, _ w: PackedPanels, bias: UnsafePointer<Float>?,
        panels: Range<Int>, output: ProductOutput
    ) {
        switch w.kernel {
        case .avx512:
            #if arch(x86_64)
                AVX512GEMM.multiply(
                    a, rows: rows, lda: lda, weights: w.pointer, depth: w.depth, outputs: w.outputs, panels: panels,
                    bias: bias,
                    output: AVX512GEMM.Output(
                        pointer: output.pointer, stride: output.stride, accumulate: output.accumulate,
                        activation: output.activation.map(\.avx512)))
            #else
                preconditionFailure("no AVX-512 kernel on this architecture")
            #endif
        case .avx2:
            multiplyAVX2(a, rows: rows, lda: lda, w, bias: bias, panels: panels, output: output)
        }
    }

    /// The AVX2 kernel's C = A · Wᵀ over `panels` of W (packed for it: 24 outputs per panel).
    static func multiplyAVX2(
        _ a: UnsafePointer<Float>, rows: Int, lda: Int, _ w: PackedPanels, bias: UnsafePointer<Float>?,
        panels: Range<Int>, output: ProductOutput
    ) {
        precondition(w.width == 24, "the AVX2 kernel takes panels of 24")
        for panel in panels {
            let columns = min(24, w.outputs - panel * 24)
            let panelBias = bias.map { UnsafePointer($0 + panel * 24) }
            var row = 0
            while row < rows {
                let count = min(blockRows, rows - row)
                let target = output.pointer + row * output.stride + panel * 24
                // One or two rows left (a ViT-B/32 image has 50 tokens: 12 blocks of 4, then 2) take a block of
                // two, which does half the work of a block of four with the last rows repeated.
                if count <= 2 {
                    pair(
                        a + row * lda, rows: count, lda: lda, panel: w.panel(panel), depth: w.depth, bias: panelBias,
                        output: target, stride: output.stride, columns: columns, accumulate: output.accumulate,
                        activation: output.activation)
                } else {
                    block(
                        a + row * lda, rows: count, lda: lda, panel: w.panel(panel), depth: w.depth, bias: panelBias,
                        output: target, stride: output.stride, columns: columns, accumulate: output.accumulate,
                        activation: output.activation)
                }
                row += count
            }
        }
    }

    /// One block of up to 2 rows × up to 24 columns. A missing second row repeats the first (not stored).
    @inline(__always)
    static func pair(
        _ a: UnsafePointer<Float>, rows: Int, lda: Int, panel: UnsafePointer<Float>, depth: Int,
        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, stride: Int, columns: Int,
        accumulate: Bool, activation: Activation?
    ) {
        let a0 = a
        let a1 = a + min(1, rows - 1) * lda
        var c00 = Lanes(), c01 = Lanes(), c02 = Lanes(), c10 = Lanes(), c11 = Lanes(), c12 = Lanes()
        let weights = UnsafeRawPointer(panel)
        for k in 0..<depth {
            let offset = k * 96
            let w0 = weights.load(fromByteOffset: offset, as: Lanes.self)
            let w1 = weights.load(fromByteOffset: offset + 32, as: Lanes.self)
            let w2 = weights.load(fromByteOffset: offset + 64, as: Lanes.self)
            var x = Lanes(repeating: a0[k])
            c00 = c00.addingProduct(x, w0)
            c01 = c01.addingProduct(x, w1)
            c02 = c02.addingProduct(x, w2)
            x = Lanes(repeating: a1[k])
            c10 = c10.addingProduct(x, w0)
            c11 = c11.addingProduct(x, w1)
            c12 = c12.addingProduct(x, w2)
        }
        let (b0, b1, b2) = biasLanes(bias)
        finish(
            c00 + b0, c01 + b1, c02 + b2, into: output, columns: columns, accumulate: accumulate,
            activation: activation)
        if rows > 1 {
            finish(
                c10 + b0, c11 + b1, c12 + b2, into: output + stride, columns: columns, accumulate: accumulate,
                activation: activation)
        }
    }

    /// One block of up to 4 rows × up to 24 columns. Missing rows repeat the last row (computed, not stored).
    @inline(__always)
    static func block(
        _ a: UnsafePointer<Float>, rows: Int, lda: Int, panel: UnsafePointer<Float>, depth: Int,
        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, stride: Int, columns: Int,
        accumulate: Bool, activation: Activation?
    ) {
        let a0 = a
        let a1 = a + min(1, rows - 1) * lda
        let a2 = a + min(2, rows - 1) * lda
        let a3 = a + min(3, rows - 1) * lda
        var c00 = Lanes(), c01 = Lanes(), c02 = Lanes(), c10 = Lanes(), c11 = Lanes(), c12 = Lanes()
        var c20 = Lanes(), c21 = Lanes(), c22 = Lanes(), c30 = Lanes(), c31 = Lanes(), c32 = Lanes()
        let weights = UnsafeRawPointer(panel)
        for k in 0..<depth {
            let offset = k * 96
            let w0 = weights.load(fromByteOffset: offset, as: Lanes.self)
            let w1 = weights.load(fromByteOffset: offset + 32, as: Lanes.self)
            let w2 = weights.load(fromByteOffset: offset + 64, as: Lanes.self)
            var x = Lanes(repeating: a0[k])
            c00 = c00.addingProduct(x, w0)
            c01 = c01.addingProduct(x, w1)
            c02 = c02.addingProduct(x, w2)
            x = Lanes(repeating: a1[k])
            c10 = c10.addingProduct(x, w0)
            c11 = c11.addingProduct(x, w1)
            c12 = c12.addingProduct(x, w2)
            x = Lanes(repeating: a2[k])
            c20 = c20.addingProduct(x, w0)
            c21 = c21.addingProduct(x, w1)
            c22 = c22.addingProduct(x, w2)
            x = Lanes(repeating: a3[k])
            c30 = c30.addingProduct(x, w0)
            c31 = c31.addingProduct(x, w1)
            c32 = c32.addingProduct(x, w2)
        }
        let (b0, b1, b2) = biasLanes(bias)
        // Plain calls, not a nested function: a nested function capturing the bias would box it on the heap.
        finish(
            c00 + b0, c01 + b1, c02 + b2, into: output, columns: columns, accumulate: accumulate,
            activation: activation)
        if rows > 1 {
            finish(
                c10 + b0, c11 + b1, c12 + b2, into: output + stride, columns: columns, accumulate: accumulate,
                activation: activation)
        }
        if rows > 2 {
            finish(
                c20 + b0, c21 + b1, c22 + b2, into: output + 2 * stride, columns: columns, accumulate: accumulate,
                activation: activation)
        }
        if rows > 3 {
            finish(
                c30 + b0, c31 + b1, c32 + b2, into: output + 3 * stride, columns: columns, accumulate: accumulate,
                activation: activation)
        }
    }

    /// A panel's 24 biases as three vectors (zeros without bias).
    @inline(__always)
    static func biasLanes(_ bias: UnsafePointer<Float>?) -> (Lanes, Lanes, Lanes) {
        guard let bias else { return (Lanes(), Lanes(), Lanes()) }
        let raw = UnsafeRawPointer(bias)
        return (
            raw.loadUnaligned(as: Lanes.self), raw.loadUnaligned(fromByteOffset: 32, as: Lanes.self),
            raw.loadUnaligned(fromByteOffset: 64, as: Lanes.self)
        )
    }

    /// Writes one row of a block: 24 values, or the first `columns` of them at the right edge of C.
    @inline(__always)
    static func finish(
        _ v0: Lanes, _ v1: Lanes, _ v2: Lanes, into target: UnsafeMutablePointer<Float>, columns: Int,
        accumulate: Bool, activation: Activation?
    ) {
        guard columns == 24 else {
            finishPartial((v0, v1, v2), into: target, columns: columns, accumulate: accumulate, activation: activation)
            return
        }
        let raw = UnsafeMutableRawPointer(target)
        var v0 = v0
        var v1 = v1
        var v2 = v2
        if accumulate {
            v0 += raw.loadUnaligned(as: Lanes.self)
            v1 += raw.loadUnaligned(fromByteOffset: 32, as: Lanes.self)
            v2 += raw.loadUnaligned(fromByteOffset: 64, as: Lanes.self)
        }
        if let activation {
            v0 = Kernels.activate(activation, v0)
            v1 = Kernels.activate(activation, v1)
            v2 = Kernels.activate(activation, v2)
        }
        raw.storeBytes(of: v0, as: Lanes.self)
        raw.storeBytes(of: v1, toByteOffset: 32, as: Lanes.self)
        raw.storeBytes(of: v2, toByteOffset: 64, as: Lanes.self)
    }

    /// Writes one row of 16 values (two vectors), or the first `columns` of them.
    @inline(__always)
    static func finish(
        _ low: Lanes, _ high: Lanes, into target: UnsafeMutablePointer<Float>, columns: Int, accumulate: Bool,
        activation: Activation?
    ) {
        guard columns == 16 else {
            finishPartial(
                (low, high, Lanes()), into: target, columns: columns, accumulate: accumulate, activation: activation)
            return
        }
        let raw = UnsafeMutableRawPointer(target)
        var low = low
        var high = high
        if accumulate {
            low += raw.loadUnaligned(as: Lanes.self)
            high += raw.loadUnaligned(fromByteOffset: 32, as: Lanes.self)
        }
        if let activation {
            low = Kernels.activate(activation, low)
            high = Kernels.activate(activation, high)
        }
        raw.storeBytes(of: low, as: Lanes.self)
        raw.storeBytes(of: high, toByteOffset: 32, as: Lanes.self)
    }

    /// The right edge of C: the first `columns` values, whole vectors at once and the rest one at a time.
    static func finishPartial(
        _ vectors: (Lanes, Lanes, Lanes), into target: UnsafeMutablePointer<Float>, columns: Int, accumulate: Bool,
        activation: Activation?
    ) {
        let raw = UnsafeMutableRawPointer(target)
        let whole = columns / 8
        for index in 0..<whole {
            var v = index == 0 ? vectors.0 : index == 1 ? vectors.1 : vectors.2
            if accumulate { v += raw.loadUnaligned(fromByteOffset: index * 32, as: Lanes.self) }
            if let activation { v = Kernels.activate(activation, v) }
            raw.storeBytes(of: v, toByteOffset: index * 32, as: Lanes.self)
        }
        for column in (whole * 8)..<columns {
            let vector = column < 8 ? vectors.0 : column < 16 ? vectors.1 : vectors.2
            var value = vector[column % 8]
            if accumulate { value += target[column] }
            if let activation { value = Kernels.activate(activation, value) }
            target[column] = value
        }
    }
}

#if arch(x86_64)
    extension Activation {
        /// The same activation in the AVX-512 kernel's terms.
        var avx512: AVX512GEMM.Activation {
            switch self {
            case .quickGELU: .quickGELU
            case .gelu: .gelu
            case .geluNew, .geluPytorchTanh: .geluTanh
            }
        }
    }
#endif
