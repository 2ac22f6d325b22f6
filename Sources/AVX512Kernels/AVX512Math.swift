// The element-wise kernels of the AVX-512 path on 16 lanes: eˣ (the same Cephes expf as CLIPModel's 8-lane
// Kernels.exp, so both kernels round alike) and the numerically stable softmax of attention's scores. Compiled for
// AVX-512 like the rest of this module: call only where FloatKernel found it.

#if arch(x86_64)
    #if canImport(Glibc)
        import Glibc
    #endif

    public enum AVX512Math {
        public typealias Vector = SIMD16<Float>

        /// eˣ for 16 lanes at once (Cephes expf: 2ⁿ · e^r with |r| ≤ ln2/2 and a degree-6 polynomial; relative
        /// error within a few units in the last place). Inputs are clamped to [−87.3, 88.3], so the result is
        /// finite and never subnormal; exp(−∞) gives a tiny positive number instead of 0.
        @inline(__always)
        public static func exp(_ input: Vector) -> Vector {
            let low = Vector(repeating: -87.3), high = Vector(repeating: 88.3)
            var x = input.replacing(with: low, where: input .< low)
            x.replace(with: high, where: x .> high)
            // Adding 1.5·2²³ rounds x·log₂e to an integer n held in the low mantissa bits.
            let magic = Vector(repeating: 12_582_912)
            let shifted = x * 1.44269504088896341 + magic
            let n = shifted - magic
            let r = x - n * 0.693359375 + n * 2.12194440e-4
            var p = Vector(repeating: 1.9875691500e-4)
            p = p * r + 1.3981999507e-3
            p = p * r + 8.3334519073e-3
            p = p * r + 4.1665795894e-2
            p = p * r + 1.6666665459e-1
            p = p * r + 5.0000001201e-1
            let er = p * r * r + r + 1
            let exponent =
                unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self)
            let scale = unsafeBitCast((exponent &+ 127) &<< 23, to: Vector.self)
            return er * scale
        }

        /// eˣ of each of `count` values, in place (the last partial vector through a copy).
        @inline(never)
        public static func exp(_ values: UnsafeMutablePointer<Float>, count: Int) {
            let raw = UnsafeMutableRawPointer(values)
            var i = 0
            while i + 16 <= count {
                raw.storeBytes(
                    of: exp(raw.loadUnaligned(fromByteOffset: i * 4, as: Vector.self)), toByteOffset: i * 4,
                    as: Vector.self)
                i += 16
            }
            if i < count {
                var rest = Vector()
                for lane in 0..<(count - i) { rest[lane] = values[i + lane] }
                rest = exp(rest)
                for lane in 0..<(count - i) { values[i + lane] = rest[lane] }
            }
        }

        /// softmax over `count` values in place, subtracting the maximum first so exp never overflows.
        @inline(never)
        public static func softmax(_ values: UnsafeMutablePointer<Float>, count: Int) {
            guard count > 0 else { return }
            let raw = UnsafeMutableRawPointer(values)
            let whole = count / 16 * 16
            var largest = Vector(repeating: -.infinity)
            var i = 0
            while i < whole {
                let v = raw.loadUnaligned(fromByteOffset: i * 4, as: Vector.self)
                largest.replace(with: v, where: v .> largest)
                i += 16
            }
            var maximum = largest.max()
            for j in whole..<count { maximum = max(maximum, values[j]) }
            let shift = Vector(repeating: maximum)
            var sums = Vector()
            i = 0
            while i < whole {
                let e = exp(raw.loadUnaligned(fromByteOffset: i * 4, as: Vector.self) - shift)
                raw.storeBytes(of: e, toByteOffset: i * 4, as: Vector.self)
                sums += e
                i += 16
            }
            var total = sums.sum()
            if whole < count {
                var rest = Vector(repeating: -.infinity)
                for lane in 0..<(count - whole) { rest[lane] = values[whole + lane] }
                let e = exp(rest - shift)
                for lane in 0..<(count - whole) {
                    values[whole + lane] = e[lane]
                    total += e[lane]
                }
            }
            let inverse = Vector(repeating: 1 / total)
            i = 0
            while i < whole {
                raw.storeBytes(
                    of: raw.loadUnaligned(fromByteOffset: i * 4, as: Vector.self) * inverse, toByteOffset: i * 4,
                    as: Vector.self)
                i += 16
            }
            for j in whole..<count { values[j] *= inverse[0] }
        }
    }
#endif
