// The 8-bit products of `--precision int8` on CPUs with AVX-512 VNNI: vpdpbusd multiplies 64 pairs of an unsigned
// byte (an activation) and a signed byte (a weight), adds each group of four products and accumulates the 16 sums in
// Int32, in one instruction on 512-bit registers. The products are exact: a u8·s8 product fits 16 bits
// (255 · −128 = −32 640) and vpdpbusd (unlike vpdpbusds) adds them to the Int32 lanes without saturating; a sum over
// K inputs stays within 255 · 128 · K, exact in Int32 for K up to 65 793 (CLIP's longest product has 3 072).
// This follows ONNX Runtime's dynamic int8 scheme (u8 activations with a zero point, s8 weights), with a finer
// granularity: a scale and zero point per token and a scale per output channel.
//
// Block: 5 rows × 64 channels, twenty 512-bit accumulators, four weight vectors and one broadcast activation in
// AVX-512's 32 registers; a 50-token image is 10 blocks, 197 tokens 39 blocks and a block of 2. Measured on a
// 2-core AMD EPYC (Zen 5, family 26 model 2), one core, thread CPU time, 50 rows × 768 inputs: with the weights
// streamed from memory once (110 592 outputs, as an encoding reads them) 5 × 64 493 G multiply-adds/s, 4 × 64 472,
// 10 × 32 465, 6 × 64 457, 8 × 48 444; with them in cache (3 072 outputs) 5 × 64 540, 10 × 32 541, 4 × 64 514,
// 6 × 64 501, 8 × 48 485 (4 × 96 484–496 in wall time). vpdpbusd alone, register operands, twelve chains: 620, so
// the block runs at 80–87 % of the instruction's rate. Prefetching the next panel gained nothing.
//
// This module is compiled for Cascade Lake (AVX-512 F, CD, BW, DQ, VL and VNNI): call it only after
// `QuantizedKernel` has found those extensions in the CPU's flags.
//
// Layouts. Activations: one row of u8 per token, `rowBytes` apart, the inputs padded with zeros to whole quads of
// 4. Weights: panels of 64 output channels; a panel holds, for each quad of inputs, 256 bytes: channel j's four
// weights at bytes 4j ..< 4j + 4. Then, for row r with zero point z_r and scale t_r and channel o with scale s_o
// and column sum Σ_k q_ok, y_ro = t_r · s_o · (Σ_k u_rk q_ok − z_r · Σ_k q_ok) (+ bias, + y, activation).

#if arch(x86_64)
    import _Builtin_intrinsics.intel

    /// What happens to a block's sums on their way out, and where they go.
    public struct ByteEpilogue {
        /// The block's first row and first channel.
        public var output: UnsafeMutablePointer<Float>
        /// Floats between rows of the output.
        public var stride: Int
        /// Channels of the panel written (1...64; fewer at the right edge).
        public var columns: Int
        /// Σ_k q_ok of the panel's 64 channels.
        public var columnSums: UnsafePointer<Int32>
        /// s_o of the panel's 64 channels.
        public var columnScales: UnsafePointer<Float>
        /// The panel's 64 biases, or nil.
        public var bias: UnsafePointer<Float>?
        /// z_r of the block's rows.
        public var rowZeros: UnsafePointer<Int32>
        /// t_r of the block's rows.
        public var rowScales: UnsafePointer<Float>
        /// Add to what the output holds (a residual connection).
        public var accumulate: Bool
        /// Apply quick_gelu, x · σ(1.702 x), last.
        public var quickGELU: Bool

        public init(
            output: UnsafeMutablePointer<Float>, stride: Int, columns: Int, columnSums: UnsafePointer<Int32>,
            columnScales: UnsafePointer<Float>, bias: UnsafePointer<Float>?, rowZeros: UnsafePointer<Int32>,
            rowScales: UnsafePointer<Float>, accumulate: Bool, quickGELU: Bool
        ) {
            self.output = output
            self.stride = stride
            self.columns = columns
            self.columnSums = columnSums
            self.columnScales = columnScales
            self.bias = bias
            self.rowZeros = rowZeros
            self.rowScales = rowScales
            self.accumulate = accumulate
            self.quickGELU = quickGELU
        }
    }

    public enum ByteKernels {
        /// Output channels of a panel.
        public static let panelWidth = 64
        /// Rows of a block.
        public static let blockRows = 5

        @inline(__always)
        static func dot(_ sum: __m512i, _ x: __m512i, _ w: __m512i) -> __m512i {
            _mm512_dpbusd_epi32(sum, x, w)
        }

        @inline(__always)
        static func broadcast(_ row: UnsafeRawPointer, _ byte: Int) -> __m512i {
            _mm512_set1_epi32(row.loadUnaligned(fromByteOffset: byte, as: Int32.self))
        }

        /// The sums of one block: row r's four vectors are `r.0 … r.3`.
        typealias Row = (__m512i, __m512i, __m512i, __m512i)

        /// Σ_k u_rk q_ok for up to 5 rows (`count`) × one panel over `quads` quads of inputs. Rows are `rowBytes`
        /// apart; missing rows repeat the last one.
        @inline(__always)
        static func accumulate(
            _ rows: UnsafeRawPointer, count: Int, rowBytes: Int, panel: UnsafeRawPointer, quads: Int
        ) -> (Row, Row, Row, Row, Row) {
            let a0 = rows
            let a1 = rows + min(1, count - 1) * rowBytes
            let a2 = rows + min(2, count - 1) * rowBytes
            let a3 = rows + min(3, count - 1) * rowBytes
            let a4 = rows + min(4, count - 1) * rowBytes
            var c00 = _mm512_setzero_si512(), c01 = _mm512_setzero_si512()
            var c02 = _mm512_setzero_si512(), c03 = _mm512_setzero_si512()
            var c10 = _mm512_setzero_si512(), c11 = _mm512_setzero_si512()
            var c12 = _mm512_setzero_si512(), c13 = _mm512_setzero_si512()
            var c20 = _mm512_setzero_si512(), c21 = _mm512_setzero_si512()
            var c22 = _mm512_setzero_si512(), c23 = _mm512_setzero_si512()
            var c30 = _mm512_setzero_si512(), c31 = _mm512_setzero_si512()
            var c32 = _mm512_setzero_si512(), c33 = _mm512_setzero_si512()
            var c40 = _mm512_setzero_si512(), c41 = _mm512_setzero_si512()
            var c42 = _mm512_setzero_si512(), c43 = _mm512_setzero_si512()
            for quad in 0..<quads {
                let offset = quad * 256
                let w0 = panel.load(fromByteOffset: offset, as: __m512i.self)
                let w1 = panel.load(fromByteOffset: offset + 64, as: __m512i.self)
                let w2 = panel.load(fromByteOffset: offset + 128, as: __m512i.self)
                let w3 = panel.load(fromByteOffset: offset + 192, as: __m512i.self)
                let byte = quad * 4
                var x = broadcast(a0, byte)
                c00 = dot(c00, x, w0)
                c01 = dot(c01, x, w1)
                c02 = dot(c02, x, w2)
                c03 = dot(c03, x, w3)
                x = broadcast(a1, byte)
                c10 = dot(c10, x, w0)
                c11 = dot(c11, x, w1)
                c12 = dot(c12, x, w2)
                c13 = dot(c13, x, w3)
                x = broadcast(a2, byte)
                c20 = dot(c20, x, w0)
                c21 = dot(c21, x, w1)
                c22 = dot(c22, x, w2)
                c23 = dot(c23, x, w3)
                x = broadcast(a3, byte)
                c30 = dot(c30, x, w0)
                c31 = dot(c31, x, w1)
                c32 = dot(c32, x, w2)
                c33 = dot(c33, x, w3)
                x = broadcast(a4, byte)
                c40 = dot(c40, x, w0)
                c41 = dot(c41, x, w1)
                c42 = dot(c42, x, w2)
                c43 = dot(c43, x, w3)
            }
            return (
                (c00, c01, c02, c03), (c10, c11, c12, c13), (c20, c21, c22, c23), (c30, c31, c32, c33),
                (c40, c41, c42, c43)
            )
        }

        /// Up to 5 rows (`count`) × one panel over `quads` quads of inputs, finished by `epilogue`. Rows are
        /// `rowBytes` apart; missing rows repeat the last one (computed, not stored).
        public static func block(
            _ rows: UnsafeRawPointer, count: Int, rowBytes: Int, panel: UnsafeRawPointer, quads: Int,
            epilogue: ByteEpilogue
        ) {
            let c = accumulate(rows, count: count, rowBytes: rowBytes, panel: panel, quads: quads)
            // Column by column, so that each vector of column sums, scales and biases is loaded once per block.
            finish(c.0.0, c.1.0, c.2.0, c.3.0, c.4.0, vector: 0, count: count, epilogue)
            if epilogue.columns > 16 { finish(c.0.1, c.1.1, c.2.1, c.3.1, c.4.1, vector: 1, count: count, epilogue) }
            if epilogue.columns > 32 { finish(c.0.2, c.1.2, c.2.2, c.3.2, c.4.2, vector: 2, count: count, epilogue) }
            if epilogue.columns > 48 { finish(c.0.3, c.1.3, c.2.3, c.3.3, c.4.3, vector: 3, count: count, epilogue) }
        }

        /// The Int32 sums of `block` before its epilogue: row r's 64 sums Σ_k u_rk q_ok (the zero point's share
        /// not taken off) go to `sums[64r ..< 64r + 64]`. For tests.
        public static func sums(
            _ rows: UnsafeRawPointer, count: Int, rowBytes: Int, panel: UnsafeRawPointer, quads: Int,
            into sums: UnsafeMutablePointer<Int32>
        ) {
            let c = accumulate(rows, count: count, rowBytes: rowBytes, panel: panel, quads: quads)
            let out = UnsafeMutableRawPointer(sums)
            for (index, row) in [c.0, c.1, c.2, c.3, c.4].prefix(count).enumerated() {
                out.storeBytes(of: row.0, toByteOffset: index * 256, as: __m512i.self)
                out.storeBytes(of: row.1, toByteOffset: index * 256 + 64, as: __m512i.self)
                out.storeBytes(of: row.2, toByteOffset: index * 256 + 128, as: __m512i.self)
                out.storeBytes(of: row.3, toByteOffset: index * 256 + 192, as: __m512i.self)
            }
        }

        /// Writes one vector (16 channels) of up to 5 rows of a block: the sums less the zero point's share, scaled,
        /// biased, added to the output and activated as the epilogue says.
        @inline(__always)
        static func finish(
            _ v0: __m512i, _ v1: __m512i, _ v2: __m512i, _ v3: __m512i, _ v4: __m512i, vector: Int, count: Int,
            _ e: ByteEpilogue
        ) {
            let first = vector * 16
            let columnSums = UnsafeRawPointer(e.columnSums + first).load(as: __m512i.self)
            let columnScales = UnsafeRawPointer(e.columnScales + first).load(as: __m512.self)
            let bias = e.bias.map { UnsafeRawPointer($0 + first).load(as: __m512.self) } ?? _mm512_setzero_ps()
            let left = e.columns - first
            let mask: __mmask16 = left >= 16 ? 0xFFFF : __mmask16((1 << left) - 1)
            @inline(__always) func row(_ sums: __m512i, _ index: Int) {
                let zero = _mm512_set1_epi32(e.rowZeros[index])
                let exact = _mm512_sub_epi32(sums, _mm512_mullo_epi32(zero, columnSums))
                let scale = _mm512_mul_ps(columnScales, _mm512_set1_ps(e.rowScales[index]))
                var value = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(exact), scale), bias)
                let place = e.output + index * e.stride + first
                if e.accumulate { value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(mask, place)) }
                if e.quickGELU { value = quickGELU(value) }
                _mm512_mask_storeu_ps(place, mask, value)
            }
            row(v0, 0)
            if count > 1 { row(v1, 1) }
            if count > 2 { row(v2, 2) }
            if count > 3 { row(v3, 3) }
            if count > 4 { row(v4, 4) }
        }

        /// x · σ(1.702 x) = x / (1 + e^(−1.702 x)), sixteen lanes.
        @inline(__always)
        static func quickGELU(_ x: __m512) -> __m512 {
            let e = exp(_mm512_mul_ps(x, _mm512_set1_ps(-1.702)))
            return _mm512_div_ps(x, _mm512_add_ps(e, _mm512_set1_ps(1)))
        }

        /// eˣ, sixteen lanes: 2ⁿ · e^r with |r| ≤ ln2/2 and Cephes expf's degree-6 polynomial (the same steps as
        /// CLIPModel's 8-lane Kernels.exp); inputs clamped to [−87.3, 88.3].
        @inline(__always)
        static func exp(_ input: __m512) -> __m512 {
            let x = _mm512_min_ps(_mm512_max_ps(input, _mm512_set1_ps(-87.3)), _mm512_set1_ps(88.3))
            let magic = _mm512_set1_ps(12_582_912)
            let shifted = _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341)), magic)
            let n = _mm512_sub_ps(shifted, magic)
            let r = _mm512_add_ps(
                _mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(0.693359375))),
                _mm512_mul_ps(n, _mm512_set1_ps(2.12194440e-4)))
            var p = _mm512_set1_ps(1.9875691500e-4)
            p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.3981999507e-3))
            p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(8.3334519073e-3))
            p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(4.1665795894e-2))
            p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.6666665459e-1))
            p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(5.0000001201e-1))
            let er = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(p, r), r), r), _mm512_set1_ps(1))
            let exponent = _mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_castps_si512(magic))
            let scale = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(exponent, _mm512_set1_epi32(127)), 23))
            return _mm512_mul_ps(er, scale)
        }

        /// Quantises weights given one output channel per row (output o's `inputs` values contiguous at
        /// `weights + o · rowStride`) to s8 with one scale per channel, q = clamp(round(w · (1 / s)), ±127) with
        /// s = max|w| / 127 (1 for an all-zero channel), and packs them into `panels` (this file's layout, `quads`
        /// quads per panel, which must hold `outputs` channels; padding already zero). Writes s and Σ_k q to
        /// `scales` and `sums`. The same integers as CLIPModel's ByteLinear.quantize.
        public static func packRows(
            _ weights: UnsafePointer<Float>, rowStride: Int, outputs: Int, inputs: Int, quads: Int,
            into panels: UnsafeMutableRawPointer, scales: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Int32>
        ) {
            for output in 0..<outputs {
                let row = weights + output * rowStride
                var largest = _mm512_setzero_ps()
                var k = 0
                while k < inputs {
                    let mask: __mmask16 = inputs - k >= 16 ? 0xFFFF : __mmask16((1 << (inputs - k)) - 1)
                    largest = _mm512_max_ps(largest, _mm512_abs_ps(_mm512_maskz_loadu_ps(mask, row + k)))
                    k += 16
                }
                let maximum = _mm512_reduce_max_ps(largest)
                let scale = maximum > 0 ? maximum / 127 : 1
                let inverse = _mm512_set1_ps(1 / scale)
                var sum = _mm512_setzero_si512()
                let channel = panels + (output / panelWidth) * quads * 256 + (output % panelWidth) * 4
                k = 0
                while k < inputs {
                    let mask: __mmask16 = inputs - k >= 16 ? 0xFFFF : __mmask16((1 << (inputs - k)) - 1)
                    let q = levels(_mm512_mul_ps(_mm512_maskz_loadu_ps(mask, row + k), inverse))
                    sum = _mm512_add_epi32(sum, q)
                    let bytes = unsafeBitCast(_mm512_cvtepi32_epi8(q), to: SIMD4<Int32>.self)
                    for lane in 0..<min(4, quads - k / 4) {
                        channel.storeBytes(of: bytes[lane], toByteOffset: (k / 4 + lane) * 256, as: Int32.self)
                    }
                    k += 16
                }
                scales[output] = scale
                sums[output] = _mm512_reduce_add_epi32(sum)
            }
        }

        /// As `packRows` for weights given one input per row: output o's input k at `weights[k · rowStride + o]`
        /// (attention's V, whose output channels are the head's channels and whose inputs are the tokens).
        public static func packColumns(
            _ weights: UnsafePointer<Float>, rowStride: Int, outputs: Int, inputs: Int, quads: Int,
            into panels: UnsafeMutableRawPointer, scales: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Int32>
        ) {
            var first = 0
            while first < outputs {
                let mask: __mmask16 = outputs - first >= 16 ? 0xFFFF : __mmask16((1 << (outputs - first)) - 1)
                var largest = _mm512_setzero_ps()
                for k in 0..<inputs {
                    largest = _mm512_max_ps(
                        largest, _mm512_abs_ps(_mm512_maskz_loadu_ps(mask, weights + k * rowStride + first)))
                }
                var scale = largest / 127
                scale.replace(with: 1, where: largest .== 0)
                let inverse = 1 / scale
                _mm512_mask_storeu_ps(scales + first, mask, scale)
                var sum = _mm512_setzero_si512()
                let target = panels + (first / panelWidth) * quads * 256 + (first % panelWidth) * 4
                let count = min(16, outputs - first)
                for quad in 0..<quads {
                    // The quad's four inputs (zero past the last), 16 channels each.
                    @inline(__always) func row(_ index: Int) -> __m512i {
                        let k = quad * 4 + index
                        guard k < inputs else { return _mm512_setzero_si512() }
                        return levels(
                            _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, weights + k * rowStride + first), inverse))
                    }
                    let q0 = row(0), q1 = row(1), q2 = row(2), q3 = row(3)
                    sum = _mm512_add_epi32(sum, _mm512_add_epi32(_mm512_add_epi32(q0, q1), _mm512_add_epi32(q2, q3)))
                    // Bytes of inputs 0–3 per channel side by side: channels 0–3, 4–7, 8–11, 12–15.
                    let b0 = _mm512_cvtepi32_epi8(q0), b1 = _mm512_cvtepi32_epi8(q1)
                    let b2 = _mm512_cvtepi32_epi8(q2), b3 = _mm512_cvtepi32_epi8(q3)
                    let low01 = _mm_unpacklo_epi8(b0, b1), high01 = _mm_unpackhi_epi8(b0, b1)
                    let low23 = _mm_unpacklo_epi8(b2, b3), high23 = _mm_unpackhi_epi8(b2, b3)
                    let place = target + quad * 256
                    if count == 16 {
                        place.storeBytes(of: _mm_unpacklo_epi16(low01, low23), toByteOffset: 0, as: __m128i.self)
                        place.storeBytes(of: _mm_unpackhi_epi16(low01, low23), toByteOffset: 16, as: __m128i.self)
                        place.storeBytes(of: _mm_unpacklo_epi16(high01, high23), toByteOffset: 32, as: __m128i.self)
                        place.storeBytes(of: _mm_unpackhi_epi16(high01, high23), toByteOffset: 48, as: __m128i.self)
                    } else {
                        let words = (
                            unsafeBitCast(_mm_unpacklo_epi16(low01, low23), to: SIMD4<Int32>.self),
                            unsafeBitCast(_mm_unpackhi_epi16(low01, low23), to: SIMD4<Int32>.self),
                            unsafeBitCast(_mm_unpacklo_epi16(high01, high23), to: SIMD4<Int32>.self),
                            unsafeBitCast(_mm_unpackhi_epi16(high01, high23), to: SIMD4<Int32>.self)
                        )
                        for channel in 0..<count {
                            let group = channel < 4 ? words.0 : channel < 8 ? words.1 : channel < 12 ? words.2 : words.3
                            place.storeBytes(of: group[channel % 4], toByteOffset: channel * 4, as: Int32.self)
                        }
                    }
                }
                _mm512_mask_storeu_epi32(sums + first, mask, sum)
                first += 16
            }
        }

        /// clamp(round(x), −127, 127) as Int32 lanes (rounding half to even).
        @inline(__always)
        static func levels(_ x: __m512) -> __m512i {
            _mm512_max_epi32(_mm512_min_epi32(_mm512_cvtps_epi32(x), _mm512_set1_epi32(127)), _mm512_set1_epi32(-127))
        }

        /// A row of attention probabilities as bytes: e_k = exp(s_k − max_j s_j) (this file's `exp`, the same steps
        /// as CLIPModel's Kernels.exp) and u_k = round(255 · e_k) for the `count` scores, written to `bytes`.
        /// Returns Σ_k e_k: the probabilities are e_k / Σe ≈ u_k / (255 · Σe), so the row's scale is 1 / (255 · Σe)
        /// and its zero point 0.
        public static func softmaxBytes(
            _ scores: UnsafePointer<Float>, count: Int, into bytes: UnsafeMutablePointer<UInt8>
        ) -> Float {
            var largest = _mm512_set1_ps(-.infinity)
            var k = 0
            while k < count {
                let mask: __mmask16 = count - k >= 16 ? 0xFFFF : __mmask16((1 << (count - k)) - 1)
                largest = _mm512_mask_max_ps(largest, mask, largest, _mm512_maskz_loadu_ps(mask, scores + k))
                k += 16
            }
            let shift = _mm512_set1_ps(_mm512_reduce_max_ps(largest))
            var total = _mm512_setzero_ps()
            k = 0
            while k < count {
                let mask: __mmask16 = count - k >= 16 ? 0xFFFF : __mmask16((1 << (count - k)) - 1)
                let e = exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, scores + k), shift))
                total = _mm512_mask_add_ps(total, mask, total, e)
                let u = _mm512_cvtps_epi32(_mm512_mul_ps(e, _mm512_set1_ps(255)))
                _mm512_mask_cvtusepi32_storeu_epi8(bytes + k, mask, u)
                k += 16
            }
            return _mm512_reduce_add_ps(total)
        }

        /// The smallest and largest of `count` floats.
        public static func range(_ values: UnsafePointer<Float>, count: Int) -> (low: Float, high: Float) {
            var low = _mm512_set1_ps(.infinity)
            var high = _mm512_set1_ps(-.infinity)
            var k = 0
            while k + 16 <= count {
                let v = UnsafeRawPointer(values + k).loadUnaligned(as: __m512.self)
                low = _mm512_min_ps(low, v)
                high = _mm512_max_ps(high, v)
                k += 16
            }
            if k < count {
                let mask = __mmask16((1 << (count - k)) - 1)
                let v = _mm512_maskz_loadu_ps(mask, values + k)
                low = _mm512_mask_min_ps(low, mask, low, v)
                high = _mm512_mask_max_ps(high, mask, high, v)
            }
            return (_mm512_reduce_min_ps(low), _mm512_reduce_max_ps(high))
        }

        /// u_k = clamp(round(x_k · inverse) + zero, 0, 255) for `count` floats (rounding half to even, as
        /// `Float.rounded(.toNearestOrEven)`), written as bytes.
        public static func quantize(
            _ values: UnsafePointer<Float>, count: Int, inverse: Float, zero: Int32,
            into bytes: UnsafeMutablePointer<UInt8>
        ) {
            let scale = _mm512_set1_ps(inverse)
            let offset = _mm512_set1_epi32(zero)
            let floor = _mm512_setzero_si512()
            var k = 0
            while k < count {
                let mask: __mmask16 = count - k >= 16 ? 0xFFFF : __mmask16((1 << (count - k)) - 1)
                let v = _mm512_maskz_loadu_ps(mask, values + k)
                let u = _mm512_max_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v, scale)), offset), floor)
                _mm512_mask_cvtusepi32_storeu_epi8(bytes + k, mask, u)
                k += 16
            }
        }
    }
#endif
