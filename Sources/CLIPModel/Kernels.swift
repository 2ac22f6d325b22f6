// The numeric kernels of a CLIP transformer (transformers 5.23 modeling_clip.py, activations.py): linear layers
// and attention products on OpenBLAS `cblas_sgemm`, LayerNorm (two-pass mean/variance in Float), the numerically
// stable softmax, and the activations. Deviation: scaling by 1/sqrt(head_dim) is folded into the Q·Kᵀ product
// (the reference multiplies after it); the difference is rounding only.
import COpenBLAS
import Foundation

enum Kernels {
    /// y[rows × outputs] = x[rows × inputs] · Wᵀ + b, with W stored [outputs × inputs] (PyTorch's Linear layout).
    /// With `accumulate` the result is added to y instead of replacing it (a fused residual add).
    static func linear(
        _ x: UnsafePointer<Float>, rows: Int, inputs: Int,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outputs: Int,
        into y: UnsafeMutablePointer<Float>, accumulate: Bool = false
    ) {
        var beta: Float = accumulate ? 1 : 0
        if let bias {
            for row in 0..<rows {
                let out = y + row * outputs
                if accumulate {
                    for column in 0..<outputs { out[column] += bias[column] }
                } else {
                    out.update(from: bias, count: outputs)
                }
            }
            beta = 1
        }
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(outputs), Int32(inputs),
            1, x, Int32(inputs), weight, Int32(inputs), beta, y, Int32(outputs))
    }

    /// LayerNorm over each row of `width` values: (x − mean) / sqrt(var + eps) · weight + bias (biased variance).
    static func layerNorm(
        _ x: UnsafePointer<Float>, rows: Int, width: Int,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float,
        into y: UnsafeMutablePointer<Float>
    ) {
        for row in 0..<rows {
            let input = x + row * width
            let output = y + row * width
            let mean = sum(input, width) / Float(width)
            let variance = sumOfSquaredDeviations(input, width, from: mean) / Float(width)
            let inverse = 1 / (variance + eps).squareRoot()
            for i in 0..<width {
                output[i] = (input[i] - mean) * inverse * weight[i] + bias[i]
            }
        }
    }

    /// Replaces each of the `count` values with the activation of it.
    static func activate(_ activation: Activation, _ values: UnsafeMutablePointer<Float>, count: Int) {
        switch activation {
        case .quickGELU:
            let raw = UnsafeMutableRawPointer(values)
            var i = 0
            while i + 8 <= count {
                let x = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                raw.storeBytes(of: x / (1 + exp(-1.702 * x)), toByteOffset: i * 4, as: SIMD8<Float>.self)
                i += 8
            }
            while i < count {
                let x = values[i]
                values[i] = x / (1 + expf(-1.702 * x))
                i += 1
            }
        case .gelu:
            let inverseSqrt2: Float = 0.70710678118654752
            for i in 0..<count {
                let x = values[i]
                values[i] = 0.5 * x * (1 + erff(x * inverseSqrt2))
            }
        case .geluNew, .geluPytorchTanh:
            let sqrt2OverPi: Float = 0.79788456080286536
            for i in 0..<count {
                let x = values[i]
                values[i] = 0.5 * x * (1 + tanhf(sqrt2OverPi * (x + 0.044715 * x * x * x)))
            }
        }
    }

    /// softmax over `count` values in place, subtracting the maximum first so exp never overflows.
    static func softmax(_ values: UnsafeMutablePointer<Float>, count: Int) {
        var maximum = -Float.infinity
        for i in 0..<count { maximum = max(maximum, values[i]) }
        let raw = UnsafeMutableRawPointer(values)
        let shift = SIMD8<Float>(repeating: maximum)
        var lanes = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= count {
            let e = exp(raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - shift)
            raw.storeBytes(of: e, toByteOffset: i * 4, as: SIMD8<Float>.self)
            lanes += e
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            let e = expf(values[i] - maximum)
            values[i] = e
            total += e
            i += 1
        }
        let inverse = 1 / total
        for i in 0..<count { values[i] *= inverse }
    }

    /// Multi-head self-attention on fused projections. `qkv` is [tokens × 3·width] holding the queries, keys and
    /// values of each token side by side; the per-head outputs are written to `context` [tokens × width].
    /// With `causal` token i attends to tokens 0...i only. `scores` needs tokens² floats.
    static func attention(
        qkv: UnsafePointer<Float>, tokens: Int, width: Int, heads: Int, causal: Bool,
        scores: UnsafeMutablePointer<Float>, context: UnsafeMutablePointer<Float>
    ) {
        let headDim = width / heads
        let stride = 3 * width
        let scale = 1 / Float(headDim).squareRoot()
        for head in 0..<heads {
            let queries = qkv + head * headDim
            let keys = qkv + width + head * headDim
            let values = qkv + 2 * width + head * headDim
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasTrans, Int32(tokens), Int32(tokens), Int32(headDim),
                scale, queries, Int32(stride), keys, Int32(stride), 0, scores, Int32(tokens))
            for row in 0..<tokens {
                let rowScores = scores + row * tokens
                let visible = causal ? row + 1 : tokens
                softmax(rowScores, count: visible)
                if visible < tokens { (rowScores + visible).update(repeating: 0, count: tokens - visible) }
            }
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(tokens), Int32(headDim), Int32(tokens),
                1, scores, Int32(tokens), values, Int32(stride), 0, context + head * headDim, Int32(width))
        }
    }

    /// Σ x[i], eight lanes at a time.
    static func sum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        let raw = UnsafeRawPointer(x)
        var lanes = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= count {
            lanes += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            total += x[i]
            i += 1
        }
        return total
    }

    /// Σ (x[i] − mean)², eight lanes at a time.
    static func sumOfSquaredDeviations(_ x: UnsafePointer<Float>, _ count: Int, from mean: Float) -> Float {
        let raw = UnsafeRawPointer(x)
        let center = SIMD8<Float>(repeating: mean)
        var lanes = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= count {
            let d = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - center
            lanes += d * d
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            let d = x[i] - mean
            total += d * d
            i += 1
        }
        return total
    }
    /// eˣ for eight lanes at once (Cephes expf: 2ⁿ · e^r with |r| ≤ ln2/2 and a degree-6 polynomial; relative
    /// error within a few units in the last place). Inputs are clamped to [−87.3, 88.3], so the result is finite
    /// and never subnormal; as in libm, exp(−∞) gives a tiny positive number instead of 0 here.
    @inline(__always)
    static func exp(_ input: SIMD8<Float>) -> SIMD8<Float> {
        // replacing(with:where:) compiles to vector compares and blends; pointwiseMin/Max become calls.
        let low = SIMD8<Float>(repeating: -87.3), high = SIMD8<Float>(repeating: 88.3)
        var x = input.replacing(with: low, where: input .< low)
        x.replace(with: high, where: x .> high)
        // Adding 1.5·2²³ rounds x·log₂e to an integer n held in the low mantissa bits.
        let magic = SIMD8<Float>(repeating: 12_582_912)
        let shifted = x * 1.44269504088896341 + magic
        let n = shifted - magic
        let r = x - n * 0.693359375 + n * 2.12194440e-4
        var p = SIMD8<Float>(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let er = p * r * r + r + 1
        let exponent = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
        let scale = unsafeBitCast((exponent &+ 127) &<< 23, to: SIMD8<Float>.self)
        return er * scale
    }
}

/// Float scratch memory owned by one encoder, allocated once.
final class Buffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(_ count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    deinit {
        pointer.deallocate()
    }
}
