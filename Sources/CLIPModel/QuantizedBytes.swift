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
// model by scripts/quantization_error.py, confirmed by QuantizedTests, RandomModelPrecisionTests and `clipcam
// bench`), with attention in 8 bits too (QuantizedAttention.swift): random ViT-B/32 0.99975, random ViT-B/16
// 0.99980, the fixture models 0.9976 (tiny-gelu-f16) and 0.9980 (tiny-quickgelu-f32), whose weights of standard
// deviation 0.3 make attention very sharp. The 16-bit path (`--precision int16`) stays within 0.99999 of fp32 on all
// of them. Every scheme tried, and why this one: docs/precision.md.
//
// Kernels, all computing the same exact Int32 sums:
// - AVX-512 VNNI (VNNIKernels.ByteKernels): vpdpbusd on 512-bit registers, 5 rows × 64 channels.
// - elsewhere (AVX2, other architectures): the same integers held in 16 bits and multiplied by the 16-bit path's
//   kernels (vpmaddwd + vpaddd): Σ_k (u_k − z_r) q_k is the same sum. AVX2's byte product, vpmaddubsw, adds pairs of
//   u8 · s8 products into 16 bits with saturation (255 · 127 · 2 > 32 767), so it would need 7-bit weights or
//   activations (as ONNX Runtime does on AVX2) and give other results; the 16-bit form runs at the 16-bit path's
//   speed instead, with the same integer sums as the VNNI kernel.
// The patch embedding runs on the 16-bit path: its product length (3 · patch²) has no such bound, and in 8 bits
// its error on noisy frames was the largest of any layer (`clipcam bench` on the tiny-quickgelu-f32 fixture model:
// cosine 0.9954 to fp32 with an 8-bit patch embedding, 0.9989 with a 16-bit one).
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
/// on the others, the same integers in the 16-bit kernels' layout (`wide`). A layer made with room for a size
/// (`init(outputs:inputs:…)`) can be quantised again and again within it (attention's keys and values, per head).
final class ByteLinear {
    static let width = 64
    private(set) var inputs: Int
    private(set) var outputs: Int
    /// Input quads (inputs rounded up to a multiple of 4; the extra weights are 0).
    private(set) var quads: Int
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
    /// Bytes of the VNNI panels and channels of the scales allocated.
    private let packedCapacity: Int
    private let channelCapacity: Int
    /// The quantised weights before packing [outputs × inputs], kept by a layer that is quantised again and again.
    private let values: UnsafeMutablePointer<Int8>?
    /// Weights the layer has room for.
    private let valueCapacity: Int

    /// Panels of this layer's kernel and their width.
    var panels: Int { wide?.panels ?? (outputs + Self.width - 1) / Self.width }
    var panelWidth: Int { wide == nil ? Self.width : QuantizedLinear.width }

    /// A model's layer: W [outputs × inputs] row-major (PyTorch's Linear layout), quantised and packed once.
    convenience init(
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outputs: Int, inputs: Int,
        kernel: QuantizedKernel = .preferred
    ) {
        self.init(outputs: outputs, inputs: inputs, bias: bias, kernel: kernel, reusable: false)
        quantize(weight, outputStride: inputs, inputStride: 1, outputs: outputs, inputs: inputs)
    }

    /// Room for up to `outputs` × `inputs` weights; `quantize` gives them. `reusable`: keep the scratch that
    /// `quantize` needs, so that quantising again allocates nothing.
    init(outputs: Int, inputs: Int, bias: UnsafePointer<Float>? = nil, kernel: QuantizedKernel, reusable: Bool) {
        precondition(kernel.isAvailable, "int8 kernel \(kernel.rawValue) cannot run here")
        precondition(
            inputs <= ByteQuantization.maxInputs, "8-bit products are exact up to \(ByteQuantization.maxInputs) inputs")
        self.inputs = inputs
        self.outputs = outputs
        self.kernel = kernel
        quads = (inputs + 3) / 4
        valueCapacity = outputs * inputs
        channelCapacity = (outputs + Self.width - 1) / Self.width * Self.width
        columnSums = .allocate(capacity: channelCapacity)
        columnSums.initialize(repeating: 0, count: channelCapacity)
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
        if kernel == .avx512vnni {
            packedCapacity = max(channelCapacity * quads * 4, 1)
            let panels = allocateWeights(bytes: packedCapacity)
            panels.initializeMemory(as: UInt8.self, repeating: 0, count: packedCapacity)
            packed = panels
            wide = nil
        } else {
            packedCapacity = 0
            packed = nil
            wide = QuantizedLinear(outputs: outputs, inputs: inputs, bias: bias, kernel: kernel)
        }
        if reusable {
            values = .allocate(capacity: max(outputs * inputs, 1))
        } else {
            values = nil
        }
    }

    deinit {
        if let packed { free(packed) }
        columnSums.deallocate()
        scales.deallocate()
        bias?.deallocate()
        values?.deallocate()
    }

    /// Quantises and packs attention's keys of one head: output o (a token) has its `inputs` values contiguous at
    /// `weight + o · rowStride`. The same integers as `quantize`, vectorised on the VNNI kernel.
    func quantizeRows(_ weight: UnsafePointer<Float>, rowStride: Int, outputs: Int, inputs: Int) {
        #if arch(x86_64)
            if let packed {
                prepare(outputs: outputs, inputs: inputs)
                ByteKernels.packRows(
                    weight, rowStride: rowStride, outputs: outputs, inputs: inputs, quads: quads, into: packed,
                    scales: scales, sums: columnSums)
                return
            }
        #endif
        quantize(weight, outputStride: rowStride, inputStride: 1, outputs: outputs, inputs: inputs)
    }

    /// Quantises and packs attention's values of one head: output o (a channel) has input k (a token) at
    /// `weight[k · rowStride + o]`. The same integers as `quantize`, vectorised on the VNNI kernel.
    func quantizeColumns(_ weight: UnsafePointer<Float>, rowStride: Int, outputs: Int, inputs: Int) {
        #if arch(x86_64)
            if let packed {
                prepare(outputs: outputs, inputs: inputs)
                ByteKernels.packColumns(
                    weight, rowStride: rowStride, outputs: outputs, inputs: inputs, quads: quads, into: packed,
                    scales: scales, sums: columnSums)
                return
            }
        #endif
        quantize(weight, outputStride: 1, inputStride: rowStride, outputs: outputs, inputs: inputs)
    }

    /// Sets the size for the VNNI panels and zeroes the panels' bytes and the scales it will use.
    private func prepare(outputs: Int, inputs: Int) {
        let quads = (inputs + 3) / 4
        let channels = (outputs + Self.width - 1) / Self.width * Self.width
        precondition(channels <= channelCapacity && channels * quads * 4 <= packedCapacity, "layer too small")
        self.outputs = outputs
        self.inputs = inputs
        self.quads = quads
        scales.update(repeating: 0, count: channels)
        columnSums.update(repeating: 0, count: channels)
        packed!.initializeMemory(as: UInt8.self, repeating: 0, count: channels * quads * 4)
    }

    /// Quantises and packs `outputs` × `inputs` weights, output o's input k at `weight[o · outputStride + k ·
    /// inputStride]`, within the room the layer was made with.
    func quantize(
        _ weight: UnsafePointer<Float>, outputStride: Int, inputStride: Int, outputs: Int, inputs: Int
    ) {
        let quads = (inputs + 3) / 4
        let channels = (outputs + Self.width - 1) / Self.width * Self.width
        precondition(channels <= channelCapacity && outputs * inputs <= valueCapacity, "layer too small")
        self.outputs = outputs
        self.inputs = inputs
        self.quads = quads
        let temporary = values == nil ? UnsafeMutablePointer<Int8>.allocate(capacity: max(outputs * inputs, 1)) : nil
        defer { temporary?.deallocate() }
        let q = values ?? temporary!
        scales.update(repeating: 0, count: channels)
        columnSums.update(repeating: 0, count: channels)
        for output in 0..<outputs {
            let row = weight + output * outputStride
            var largest: Float = 0
            for k in 0..<inputs { largest = max(largest, abs(row[k * inputStride])) }
            let scale = largest > 0 ? largest / ByteQuantization.weightLevels : 1
            let inverse = 1 / scale
            var sum: Int32 = 0
            for k in 0..<inputs {
                let level = max(-127, min(127, (row[k * inputStride] * inverse).rounded(.toNearestOrEven)))
                let value = Int8(level.isNaN ? 0 : level)
                q[output * inputs + k] = value
                sum += Int32(value)
            }
            scales[output] = scale
            columnSums[output] = sum
        }
        if let packed {
            let bytes = channels * quads * 4
            precondition(bytes <= packedCapacity, "layer too small")
            packed.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
            for output in 0..<outputs {
                let base = packed + (output / Self.width) * quads * 256 + (output % Self.width) * 4
                let row = q + output * inputs
                for k in 0..<inputs { base.storeBytes(of: row[k], toByteOffset: (k / 4) * 256 + k % 4, as: Int8.self) }
            }
        } else {
            wide!.fill(values: q, scales: scales, outputs: outputs, inputs: inputs)
        }
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

    /// Quantises `rows` rows of `inputs` floats, `lda` apart, on the calling thread.
    func quantize(_ x: UnsafePointer<Float>, rows: Int, inputs: Int, lda: Int) {
        held = nil
        prepare(inputs: inputs, rows: rows)
        for row in 0..<rows { quantize(row: row, x + row * lda, inputs: inputs) }
    }

    /// Quantises `rows` rows of `inputs` floats, `lda` apart, the rows shared among `pool`'s workers, unless these
    /// very rows are held already (`holds`).
    func quantize(_ x: UnsafePointer<Float>, rows: Int, inputs: Int, lda: Int, pool: WorkerPool) {
        if holds(x, rows: rows, inputs: inputs, lda: lda) { return }
        held = nil
        prepare(inputs: inputs, rows: rows)
        guard pool.threads > 1 && rows >= 2 * RowsTask.rowsPerClaim else {
            for row in 0..<rows { quantize(row: row, x + row * lda, inputs: inputs) }
            return
        }
        task.set(x, rows: rows, inputs: inputs, lda: lda, layerNorm: nil, into: self, pool: pool)
        pool.run(task)
        task.clear()
    }

    /// LayerNorm of `rows` rows of `width` floats (`x`, packed) into `normed` (Kernels.layerNorm, row by row: the
    /// same floats), each row quantised as soon as it is normalised, the rows shared among `pool`'s workers. The
    /// rows are then held for the next products from `normed` (`holds`).
    func layerNorm(
        _ x: UnsafePointer<Float>, rows: Int, width: Int, weights: LayerNormWeights, eps: Float,
        into normed: UnsafeMutablePointer<Float>, pool: WorkerPool
    ) {
        prepare(inputs: width, rows: rows)
        task.set(
            x, rows: rows, inputs: width, lda: width, layerNorm: (weights, eps, normed), into: self, pool: pool)
        pool.run(task)
        task.clear()
        held = (UnsafePointer(normed), rows, width)
    }

    /// Whether the rows quantised last are `rows` rows of `inputs` floats at `x`, packed, as `layerNorm` left them.
    func holds(_ x: UnsafePointer<Float>, rows: Int, inputs: Int, lda: Int) -> Bool {
        guard let held else { return false }
        return held.pointer == x && held.rows == rows && held.inputs == inputs && lda == inputs
    }

    /// Makes `holds` false until the next `layerNorm` (the floats it quantised are about to change).
    func forget() { held = nil }

    private var held: (pointer: UnsafePointer<Float>, rows: Int, inputs: Int)?
    private let task = RowsTask()

    /// Quantising rows (after a LayerNorm, or not) as a pool job: the workers claim a few rows at a time.
    final class RowsTask: PoolTask {
        static let rowsPerClaim = 4
        private var x: UnsafePointer<Float>?
        private var rows = 0
        private var inputs = 0
        private var lda = 0
        private var layerNorm: (weights: LayerNormWeights, eps: Float, into: UnsafeMutablePointer<Float>)?
        private unowned(unsafe) var target: ByteRows?
        private unowned(unsafe) var pool: WorkerPool?

        func set(
            _ x: UnsafePointer<Float>, rows: Int, inputs: Int, lda: Int,
            layerNorm: (weights: LayerNormWeights, eps: Float, into: UnsafeMutablePointer<Float>)?,
            into target: ByteRows,
            pool: WorkerPool
        ) {
            self.x = x
            self.rows = rows
            self.inputs = inputs
            self.lda = lda
            self.layerNorm = layerNorm
            self.target = target
            self.pool = pool
        }

        func clear() {
            layerNorm = nil
            target = nil
            pool = nil
        }

        func run(worker: Int) {
            guard let x, let target, let pool else { return }
            let claims = (rows + Self.rowsPerClaim - 1) / Self.rowsPerClaim
            while let claimed = pool.claim(claims, worker: worker) {
                for claim in claimed {
                    let first = claim * Self.rowsPerClaim
                    for row in first..<min(rows, first + Self.rowsPerClaim) {
                        if let (weights, eps, normed) = layerNorm {
                            let output = normed + row * inputs
                            Kernels.layerNorm(
                                x + row * lda, rows: 1, width: inputs, weight: weights.weight.pointer,
                                bias: weights.bias.pointer, eps: eps, into: output)
                            target.quantize(row: row, output, inputs: inputs)
                        } else {
                            target.quantize(row: row, x + row * lda, inputs: inputs)
                        }
                    }
                }
            }
        }
    }

    /// Sets the row length for `inputs` values; rows can then be quantised one by one, in any order.
    private func prepare(inputs: Int, rows: Int) {
        stride = (inputs + 3) / 4 * 4
        precondition(rows * stride <= capacity, "quantised activation buffer too small")
        if let wide { wide.stride = (inputs + 1) / 2 * 2 }
    }

    /// Quantises one row of `inputs` floats into row `row`.
    private func quantize(row: Int, _ input: UnsafePointer<Float>, inputs: Int) {
        if let wide {
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
            return
        }
        #if arch(x86_64)
            let (low, high) = ByteKernels.range(input, count: inputs)
            let (scale, inverse, zero) = ByteQuantization.rowParameters(low: low, high: high)
            zeros[row] = zero
            scales[row] = scale
            let output = bytes + row * stride
            ByteKernels.quantize(input, count: inputs, inverse: inverse, zero: zero, into: output)
            for k in inputs..<stride { output[k] = 0 }
        #endif
    }

    /// Attention's probabilities: for each of `rows` rows of scores (`lda` apart), the first `visible(row)` of
    /// `count` are turned into bytes u_k = round(255 · e_k) with e_k = exp(s_k − max) and scale t = 1 / (255 · Σe),
    /// zero point 0 (so t · u_k ≈ softmax(s)_k: the normalisation is in the scale); the rest are 0.
    func softmax(
        _ scores: UnsafePointer<Float>, rows: Int, count: Int, lda: Int, visible: (Int) -> Int
    ) {
        held = nil
        stride = (count + 3) / 4 * 4
        precondition(rows * stride <= capacity, "quantised activation buffer too small")
        if let wide { wide.stride = (count + 1) / 2 * 2 }
        for row in 0..<rows {
            let input = scores + row * lda
            let shown = visible(row)
            let total: Float
            if let wide {
                let output = wide.values + row * wide.stride
                total = Self.softmaxLevels(input, count: shown) { k, u in output[k] = Int16(u) }
                for k in shown..<wide.stride { output[k] = 0 }
            } else {
                #if arch(x86_64)
                    let output = bytes + row * stride
                    total = ByteKernels.softmaxBytes(input, count: shown, into: output)
                    for k in shown..<stride { output[k] = 0 }
                #else
                    preconditionFailure("no VNNI kernel on this architecture")
                #endif
            }
            zeros[row] = 0
            scales[row] = 1 / (255 * total)
            wide?.step[row] = scales[row]
        }
    }

    /// `ByteKernels.softmaxBytes` in eight-lane Swift: the same e_k (Kernels.exp takes the same steps as the VNNI
    /// module's exp, also for the last, partial group) and so the same bytes, given to `store`; returns Σe.
    static func softmaxLevels(
        _ x: UnsafePointer<Float>, count: Int, store: (Int, Int32) -> Void
    ) -> Float {
        var largest = -Float.infinity
        for k in 0..<count where x[k] > largest { largest = x[k] }
        let shift = Lanes(repeating: largest)
        var total = Lanes()
        var k = 0
        while k < count {
            var v = Lanes(repeating: 0)
            let lanes = min(8, count - k)
            for lane in 0..<lanes { v[lane] = x[k + lane] }
            var e = Kernels.exp(v - shift)
            for lane in lanes..<8 { e[lane] = 0 }
            total += e
            let u = (e * 255).rounded(.toNearestOrEven)
            for lane in 0..<lanes { store(k + lane, Int32(u[lane])) }
            k += 8
        }
        return total.sum()
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

extension TransformerStack {
    /// LayerNorm of `rows` rows of x into `normed`, before a product by `linear`: for an int8 layer the rows are
    /// normalised and quantised in one pass shared among the workers, and that product then finds them quantised;
    /// for the others, Kernels.layerNorm on the calling thread. Either way `normed` holds the same floats.
    func layerNorm(_ x: UnsafePointer<Float>, rows: Int, _ weights: LayerNormWeights, for linear: BlockLinear) {
        if case .int8 = linear, let bytes {
            bytes.layerNorm(
                x, rows: rows, width: width, weights: weights, eps: eps, into: normed.pointer, pool: pool)
        } else {
            bytes?.forget()
            Kernels.layerNorm(
                x, rows: rows, width: width, weight: weights.weight.pointer, bias: weights.bias.pointer, eps: eps,
                into: normed.pointer)
        }
    }
}
