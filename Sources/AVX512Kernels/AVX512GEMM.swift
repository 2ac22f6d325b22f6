// The fp32 matrix kernel for CPUs with AVX-512: C[rows × N] = A[rows × K] · Wᵀ (+ bias, + C, then an activation),
// with W packed once at load into panels of 32 outputs (for each input k, the panel's 32 weights side by side; the
// outputs past the last whole panel are zero). A block of up to 10 rows × 32 columns lives in twenty 16-lane
// registers while K is walked; each step loads the panel's two vectors and broadcasts one value of each of the ten
// rows: twenty FMAs per two loads and ten broadcasts, in 23 of AVX-512's 32 registers. While a panel is multiplied,
// its blocks ask for the next panel's lines ahead of use (software prefetch), each block a share of them.
//
// Measured on a 2-core AMD EPYC (Zen 5, family 26 model 2; 269 GFLOP/s of 16-lane FMAs with register operands
// only), one core, thread CPU time, the four products of a transformer block over 12 layers' weights streamed from
// memory, every block shape taking turns in one process (medians of 7 rounds): with the next panel prefetched,
// 10 × 32 runs at 257 GFLOP/s for 50 rows and 256 for 200; 6 × 64 at 244 and 252, 8 × 48 at 255 (200 rows), 12 × 32
// at 230 and 249, 14 × 32 at 59 (not examined further). Without the prefetch, 10 × 32, 9 × 48, 8 × 48, 6 × 64 and 12 × 32 all ran at
// 200–220 (wall time, 50 rows, load average 3–5). Packing each block's rows k-major first (one stream of broadcasts
// instead of ten) measured the same (254–258), so A is read in place. In the encoder (ViT-B/16, one thread, thread
// CPU time) the q/k/v product runs at 252 GFLOP/s, the MLP at 246 and the output projection at 249; the AVX2 kernel
// (PackedGEMM, 4 × 24 on 8 lanes) at about 120 on the same core.
//
// This module alone is compiled for AVX-512 F, CD, BW, DQ and VL (Skylake-SP's set, which every CPU with AVX-512
// has), so the compiler may use them anywhere in it: call it only after CLIPModel's FloatKernel has found them in
// the CPU's flags.

#if arch(x86_64)
    import CPrefetch

    #if canImport(Glibc)
        import Glibc
    #endif

    public enum AVX512GEMM {
        public typealias Vector = SIMD16<Float>

        /// Outputs per panel.
        public static let panelWidth = 32
        /// Rows of a block.
        public static let blockRows = 10

        /// The activation applied to each value as it is stored.
        public enum Activation: Sendable {
            /// x · σ(1.702 x).
            case quickGELU
            /// x · Φ(x), with erf.
            case gelu
            /// GELU's tanh approximation.
            case geluTanh
        }

        /// Where a product's result goes and what happens to it on the way.
        public struct Output {
            public var pointer: UnsafeMutablePointer<Float>
            /// Floats between rows.
            public var stride: Int
            /// Add to what is there (a residual connection) instead of replacing it.
            public var accumulate: Bool
            public var activation: Activation?

            public init(pointer: UnsafeMutablePointer<Float>, stride: Int, accumulate: Bool, activation: Activation?) {
                self.pointer = pointer
                self.stride = stride
                self.accumulate = accumulate
                self.activation = activation
            }
        }

        /// C = A · Wᵀ over `panels` of W (packed: `depth` inputs, `outputs` outputs, 32 per panel), for `rows` rows
        /// of A (`lda` floats apart), one thread. `bias`: one value per output, padded with zeros to whole panels.
        @inline(never)
        public static func multiply(
            _ a: UnsafePointer<Float>, rows: Int, lda: Int, weights: UnsafePointer<Float>, depth: Int, outputs: Int,
            panels: Range<Int>, bias: UnsafePointer<Float>?, output: Output
        ) {
            guard rows > 0, depth > 0 else {
                if depth == 0 { zeroProduct(rows: rows, outputs: outputs, panels: panels, bias: bias, output: output) }
                return
            }
            let panelCount = (outputs + panelWidth - 1) / panelWidth
            let panelBytes = depth * panelWidth * 4
            let panelLines = panelBytes / 64
            let blocks = (rows + blockRows - 1) / blockRows
            let linesPerBlock = (panelLines + blocks - 1) / blocks
            for panel in panels {
                let panelStart = UnsafeRawPointer(weights) + panel * panelBytes
                let next = panel + 1 < panelCount ? panelStart + panelBytes : nil
                var block = BlockOperands(
                    a: a, lda: lda, panel: panelStart, depth: depth,
                    bias: bias.map { UnsafeRawPointer($0 + panel * panelWidth) },
                    target: output.pointer + panel * panelWidth, stride: output.stride,
                    columns: min(panelWidth, outputs - panel * panelWidth), accumulate: output.accumulate,
                    activation: output.activation, prefetch: nil, prefetchLines: 0)
                var row = 0
                var index = 0
                while row < rows {
                    let count = min(blockRows, rows - row)
                    block.a = a + row * lda
                    block.target = output.pointer + row * output.stride + panel * panelWidth
                    let first = index * linesPerBlock
                    block.prefetch = next.map { $0 + first * 64 }
                    block.prefetchLines = max(0, min(linesPerBlock, panelLines - first))
                    if block.columns > 16 {
                        Blocks<2>.run(rows: count, block)
                    } else {
                        Blocks<1>.run(rows: count, block)
                    }
                    row += count
                    index += 1
                }
            }
        }

        /// A product over no inputs: the bias, then the residual and the activation.
        static func zeroProduct(
            rows: Int, outputs: Int, panels: Range<Int>, bias: UnsafePointer<Float>?, output: Output
        ) {
            let columns = (panels.lowerBound * panelWidth)..<min(outputs, panels.upperBound * panelWidth)
            for row in 0..<rows {
                let target = output.pointer + row * output.stride
                for column in columns {
                    var value = bias?[column] ?? 0
                    if output.accumulate { value += target[column] }
                    if let activation = output.activation { value = activate(activation, value) }
                    target[column] = value
                }
            }
        }

        /// What one block of rows × (up to) 32 columns works on.
        struct BlockOperands {
            var a: UnsafePointer<Float>
            var lda: Int
            var panel: UnsafeRawPointer
            var depth: Int
            /// The panel's 32 biases, or nil.
            var bias: UnsafeRawPointer?
            /// Row 0, column 0 of the block in C.
            var target: UnsafeMutablePointer<Float>
            var stride: Int
            /// The panel's outputs that exist (32 but at the right edge of C).
            var columns: Int
            var accumulate: Bool
            var activation: Activation?
            /// Lines to ask for while K is walked (of the next panel), or nil.
            var prefetch: UnsafeRawPointer?
            var prefetchLines: Int
        }

        /// Blocks of V vectors (16 · V columns) for every row count up to `blockRows`.
        enum Blocks<let V: Int> {
            @inline(__always)
            static func run(rows: Int, _ operands: BlockOperands) {
                switch rows {
                case 10: Block<10, V>.run(operands)
                case 9: Block<9, V>.run(operands)
                case 8: Block<8, V>.run(operands)
                case 7: Block<7, V>.run(operands)
                case 6: Block<6, V>.run(operands)
                case 5: Block<5, V>.run(operands)
                case 4: Block<4, V>.run(operands)
                case 3: Block<3, V>.run(operands)
                case 2: Block<2, V>.run(operands)
                default: Block<1, V>.run(operands)
                }
            }
        }

        /// One block of R rows × V vectors; the accumulators are R · V registers (the loops over R and V are
        /// unrolled by the compiler, which keeps InlineArray's elements in registers).
        enum Block<let R: Int, let V: Int> {
            typealias Accumulators = InlineArray<R, InlineArray<V, Vector>>

            @inline(__always)
            static func run(_ operands: BlockOperands) {
                var sums = Accumulators(repeating: InlineArray<V, Vector>(repeating: Vector()))
                // One line of the next panel per step, or two when the share is larger than K (a block of all the
                // rows); a single loop, so that the accumulators stay in registers.
                let depth = operands.depth
                let twoPerStep = operands.prefetchLines > depth
                let prefetchSteps =
                    operands.prefetch == nil
                    ? 0 : twoPerStep ? (operands.prefetchLines + 1) / 2 : operands.prefetchLines
                let prefetch = operands.prefetch ?? operands.panel
                let panel = operands.panel
                let a = operands.a
                let lda = operands.lda
                for k in 0..<depth {
                    if k < prefetchSteps {
                        if twoPerStep {
                            cprefetch_read(prefetch + 2 * k * 64)
                            cprefetch_read(prefetch + (2 * k + 1) * 64)
                        } else {
                            cprefetch_read(prefetch + k * 64)
                        }
                    }
                    var w = InlineArray<V, Vector>(repeating: Vector())
                    for j in 0..<V { w[j] = panel.load(fromByteOffset: k * 128 + j * 64, as: Vector.self) }
                    for i in 0..<R {
                        let x = Vector(repeating: a[i * lda + k])
                        for j in 0..<V { sums[i][j] = sums[i][j].addingProduct(x, w[j]) }
                    }
                }
                let bias = operands.bias
                for i in 0..<R {
                    let target = UnsafeMutableRawPointer(operands.target + i * operands.stride)
                    for j in 0..<V {
                        var value = sums[i][j]
                        if let bias { value += bias.loadUnaligned(fromByteOffset: j * 64, as: Vector.self) }
                        let valid = operands.columns - 16 * j
                        if valid >= 16 {
                            if operands.accumulate {
                                value += target.loadUnaligned(fromByteOffset: j * 64, as: Vector.self)
                            }
                            if let activation = operands.activation { value = activate(activation, value) }
                            target.storeBytes(of: value, toByteOffset: j * 64, as: Vector.self)
                        } else {
                            storePartial(
                                value, into: operands.target + i * operands.stride + 16 * j, count: valid,
                                accumulate: operands.accumulate, activation: operands.activation)
                        }
                    }
                }
            }
        }

        /// Stores the first `count` lanes of `value` (the right edge of C).
        static func storePartial(
            _ value: Vector, into target: UnsafeMutablePointer<Float>, count: Int, accumulate: Bool,
            activation: Activation?
        ) {
            var value = value
            if accumulate {
                var existing = Vector()
                for lane in 0..<count { existing[lane] = target[lane] }
                value += existing
            }
            if let activation { value = activate(activation, value) }
            for lane in 0..<count { target[lane] = value[lane] }
        }

        /// The activation of each of 16 values.
        @inline(__always)
        public static func activate(_ activation: Activation, _ x: Vector) -> Vector {
            if activation == .quickGELU { return x / (1 + AVX512Math.exp(-1.702 * x)) }
            var result = x
            for lane in 0..<Vector.scalarCount { result[lane] = activate(activation, x[lane]) }
            return result
        }

        /// The activation of one value.
        static func activate(_ activation: Activation, _ x: Float) -> Float {
            switch activation {
            case .quickGELU: return x / (1 + expf(-1.702 * x))
            case .gelu: return 0.5 * x * (1 + erff(x * 0.70710678118654752))
            case .geluTanh: return 0.5 * x * (1 + tanhf(0.79788456080286536 * (x + 0.044715 * x * x * x)))
            }
        }
    }
#endif
