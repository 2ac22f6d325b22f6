// Follows Pillow 13.0's 8-bit resampler with the BICUBIC filter (src/libImaging/Resample.c: precompute_coeffs,
// normalize_coeffs_8bpc, ImagingResampleHorizontal_8bpc / ImagingResampleVertical_8bpc, ImagingResampleInner):
// an antialiased separable convolution (the kernel is widened by the shrink factor) with weights rounded to 22-bit
// fixed point, 32-bit integer sums, and rounding plus clamping to uint8 after each pass. Pillow runs the vertical
// pass first when the height shrinks by more than twice as many pixels as the width, else the horizontal pass
// first. Deviation, exact by construction: only the output pixels that a later crop keeps are computed (each
// output sample depends only on its own weights and input samples), and a pass over an unchanged axis, which
// Pillow skips, uses a single unit weight, which yields the input value exactly.

/// Fraction bits of the fixed-point weights: 32 bits, less 8 for the sample and 2 for the overshoot of the
/// kernel's negative lobes.
let resampleFractionBits: Int32 = 22

/// Pillow's bicubic convolution kernel (a = -0.5), support 2.
@inline(__always)
func bicubicKernel(_ x: Double) -> Double {
    let a = -0.5
    let x = x < 0 ? -x : x
    if x < 1 {
        return ((a + 2) * x - (a + 3)) * x * x + 1
    }
    if x < 2 {
        return (((x - 5) * x + 8) * x - 4) * a
    }
    return 0
}

/// The fixed-point weights that resample one axis from `inputCount` to `outputCount` samples, for the output
/// positions in `kept` only.
struct ResampleAxis {
    /// Output positions this axis computes, in the full resized image.
    let kept: Range<Int>
    /// Weights stored per output position (Pillow's `ksize`); unused trailing weights are zero.
    let stride: Int
    /// First input sample read by each kept output position.
    let starts: [Int]
    /// Number of input samples read by each kept output position.
    let counts: [Int]
    /// `kept.count * stride` weights in 22-bit fixed point.
    let weights: [Int32]
    /// Input samples read by any kept output position.
    let inputs: Range<Int>

    init(inputCount: Int, outputCount: Int, kept: Range<Int>) {
        precondition(inputCount > 0 && outputCount > 0, "empty axis: \(inputCount) -> \(outputCount)")
        precondition(
            kept.lowerBound >= 0 && kept.upperBound <= outputCount && !kept.isEmpty,
            "kept outputs \(kept) outside 0..<\(outputCount)")
        self.kept = kept
        if inputCount == outputCount {
            stride = 1
            starts = Array(kept)
            counts = Array(repeating: 1, count: kept.count)
            weights = Array(repeating: 1 << resampleFractionBits, count: kept.count)
            inputs = kept
            return
        }
        let scale = Double(inputCount) / Double(outputCount)
        let filterScale = max(scale, 1)
        let support = 2 * filterScale
        let inverseFilterScale = 1 / filterScale
        let stride = Int(support.rounded(.up)) * 2 + 1
        let unit = Double(1 << resampleFractionBits)
        var starts = [Int]()
        var counts = [Int]()
        var weights = [Int32](repeating: 0, count: kept.count * stride)
        var real = [Double](repeating: 0, count: stride)
        starts.reserveCapacity(kept.count)
        counts.reserveCapacity(kept.count)
        for (slot, position) in kept.enumerated() {
            let center = (Double(position) + 0.5) * scale
            // Truncating conversions on purpose: Pillow rounds with `(int)(value + 0.5)`.
            let first = max(Int(center - support + 0.5), 0)
            let count = min(Int(center + support + 0.5), inputCount) - first
            var total = 0.0
            for tap in 0..<count {
                let weight = bicubicKernel((Double(tap + first) - center + 0.5) * inverseFilterScale)
                real[tap] = weight
                total += weight
            }
            for tap in 0..<count {
                var weight = real[tap]
                if total != 0 {
                    weight /= total
                }
                weights[slot * stride + tap] = Int32(weight < 0 ? weight * unit - 0.5 : weight * unit + 0.5)
            }
            starts.append(first)
            counts.append(count)
        }
        self.stride = stride
        self.starts = starts
        self.counts = counts
        self.weights = weights
        var lowest = Int.max
        var highest = Int.min
        for slot in starts.indices {
            lowest = min(lowest, starts[slot])
            highest = max(highest, starts[slot] + counts[slot])
        }
        inputs = lowest..<highest
    }
}

/// Rounds a fixed-point sum to a sample and clamps it to 0...255, as Pillow's `clip8`.
@inline(__always)
func clampSample(_ sum: Int32) -> UInt8 {
    UInt8(clamping: sum >> resampleFractionBits)
}

/// Resamples `rowCount` rows of 3-byte pixels along x with `axis`. Row `r` of the source starts at
/// `source + r * sourceRowStride`, and its pixel 0 is input pixel `firstColumn`. Writes `axis.kept.count` pixels
/// per row to `destination`, rows `destinationRowStride` bytes apart. The byte order within a pixel is kept.
func resampleRows(
    _ source: UnsafePointer<UInt8>, sourceRowStride: Int, firstColumn: Int, rowCount: Int, axis: ResampleAxis,
    into destination: UnsafeMutablePointer<UInt8>, destinationRowStride: Int
) {
    let half: Int32 = 1 << (resampleFractionBits - 1)
    axis.starts.withUnsafeBufferPointer { starts in
        axis.counts.withUnsafeBufferPointer { counts in
            axis.weights.withUnsafeBufferPointer { weights in
                for row in 0..<rowCount {
                    let input = source + row * sourceRowStride
                    var output = destination + row * destinationRowStride
                    for slot in 0..<starts.count {
                        var pixel = input + (starts[slot] - firstColumn) * 3
                        var taps = weights.baseAddress! + slot * axis.stride
                        var sum0 = half
                        var sum1 = half
                        var sum2 = half
                        for _ in 0..<counts[slot] {
                            let weight = taps.pointee
                            sum0 &+= Int32(pixel[0]) &* weight
                            sum1 &+= Int32(pixel[1]) &* weight
                            sum2 &+= Int32(pixel[2]) &* weight
                            pixel += 3
                            taps += 1
                        }
                        output[0] = clampSample(sum0)
                        output[1] = clampSample(sum1)
                        output[2] = clampSample(sum2)
                        output += 3
                    }
                }
            }
        }
    }
}

/// Resamples along y with `axis`, byte by byte: every byte of a row is a sample, whatever the pixel layout.
/// Row `r` of the source starts at `source + r * sourceRowStride` and is input row `firstRow + r`. Writes
/// `axis.kept.count` rows of `byteCount` bytes to `destination`, rows `destinationRowStride` bytes apart.
func resampleColumns(
    _ source: UnsafePointer<UInt8>, sourceRowStride: Int, firstRow: Int, byteCount: Int, axis: ResampleAxis,
    into destination: UnsafeMutablePointer<UInt8>, destinationRowStride: Int
) {
    typealias Lanes = SIMD16<Int32>
    let lanes = Lanes.scalarCount
    let half: Int32 = 1 << (resampleFractionBits - 1)
    let limit = Lanes(repeating: 255)
    axis.starts.withUnsafeBufferPointer { starts in
        axis.counts.withUnsafeBufferPointer { counts in
            axis.weights.withUnsafeBufferPointer { weights in
                for slot in 0..<starts.count {
                    let top = source + (starts[slot] - firstRow) * sourceRowStride
                    let taps = weights.baseAddress! + slot * axis.stride
                    let count = counts[slot]
                    let output = destination + slot * destinationRowStride
                    var column = 0
                    while column + lanes <= byteCount {
                        var sum = Lanes(repeating: half)
                        var input = top + column
                        for tap in 0..<count {
                            let bytes = UnsafeRawPointer(input).loadUnaligned(as: SIMD16<UInt8>.self)
                            sum &+= Lanes(truncatingIfNeeded: bytes) &* taps[tap]
                            input += sourceRowStride
                        }
                        let clamped = (sum &>> resampleFractionBits).clamped(lowerBound: .zero, upperBound: limit)
                        UnsafeMutableRawPointer(output + column)
                            .storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: clamped), as: SIMD16<UInt8>.self)
                        column += lanes
                    }
                    while column < byteCount {
                        var sum = half
                        for tap in 0..<count {
                            sum &+= Int32(top[tap * sourceRowStride + column]) &* taps[tap]
                        }
                        output[column] = clampSample(sum)
                        column += 1
                    }
                }
            }
        }
    }
}
