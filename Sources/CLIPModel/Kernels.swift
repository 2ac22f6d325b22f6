// The element-wise kernels of a CLIP transformer (transformers 5.23 modeling_clip.py, activations.py): LayerNorm
// (two-pass mean/variance in Float), the numerically stable softmax, and the activations. The matrix products are
// in PackedGEMM.swift, attention in Attention.swift.
import Foundation

#if arch(x86_64)
    import AVX512Kernels
#endif

enum Kernels {
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

    /// The activation of each of eight values.
    @inline(__always)
    static func activate(_ activation: Activation, _ x: Lanes) -> Lanes {
        if activation == .quickGELU { return x / (1 + exp(-1.702 * x)) }
        var result = x
        for lane in 0..<Lanes.scalarCount { result[lane] = activate(activation, x[lane]) }
        return result
    }

    /// The activation of one value.
    @inline(__always)
    static func activate(_ activation: Activation, _ x: Float) -> Float {
        switch activation {
        case .quickGELU:
            return x / (1 + expf(-1.702 * x))
        case .gelu:
            return 0.5 * x * (1 + erff(x * 0.70710678118654752))
        case .geluNew, .geluPytorchTanh:
            return 0.5 * x * (1 + tanhf(0.79788456080286536 * (x + 0.044715 * x * x * x)))
        }
    }

    /// softmax over `count` values in place on `kernel`'s vectors (16 lanes for AVX-512, else 8).
    static func softmax(_ values: UnsafeMutablePointer<Float>, count: Int, kernel: FloatKernel) {
        switch kernel {
        case .avx512:
            #if arch(x86_64)
                AVX512Math.softmax(values, count: count)
            #else
                preconditionFailure("no AVX-512 kernel on this architecture")
            #endif
        case .avx2: softmax(values, count: count)
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
