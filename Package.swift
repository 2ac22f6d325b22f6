// swift-tools-version:6.0
import PackageDescription

// The numeric targets are compiled for AVX2 + FMA on x86-64 (every Intel CPU since Haswell, 2013, and every AMD
// since Zen), so that SIMD code becomes 8-lane vector instructions and fused multiply-adds instead of per-lane libm
// calls, and the int8 kernel can use AVX2's integer dot products. This holds for debug builds too: the intrinsics
// cannot be compiled without it. `clipcam` itself is built for the baseline and checks the CPU before loading a
// model (CPUCheck).

/// Settings of a numeric target compiled for `cpu` on x86-64 (the baseline elsewhere), optimised without bounds
/// checks in release builds.
func numericSettings(cpu: String) -> [SwiftSetting] {
    #if arch(x86_64)
        let cpuFlags = ["-target-cpu", cpu]
    #else
        let cpuFlags: [String] = []
    #endif
    return [
        .unsafeFlags(cpuFlags),
        .unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release)),
    ]
}

let fastMath = numericSettings(cpu: "haswell")
// VNNIKernels alone is compiled for AVX-512 with VNNI (Cascade Lake's set); CLIPModel calls it only on CPUs whose
// flags list those extensions (QuantizedKernel).
let vnniSettings = numericSettings(cpu: "cascadelake")
// AVX512Kernels alone is compiled for AVX-512 F, CD, BW, DQ and VL (Skylake-SP's set, which every AVX-512 CPU has:
// Intel since Skylake-SP, AMD since Zen 4); CLIPModel calls it only on CPUs whose flags list them (FloatKernel).
// Only such a module may hold SIMD16<Float> arithmetic: compiled for AVX2, each 16-lane operation becomes two.
let avx512Settings = numericSettings(cpu: "skylake-avx512")

let package = Package(
    name: "clipcam",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "clipcam", targets: ["clipcam"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
    ],
    targets: [
        // System libraries.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CSDL2", pkgConfig: "sdl2", providers: [.apt(["libsdl2-dev", "libsdl2-image-dev"])]),
        .systemLibrary(name: "CFreeType", pkgConfig: "freetype2", providers: [.apt(["libfreetype-dev"])]),
        .systemLibrary(name: "CV4L2", pkgConfig: "libv4l2", providers: [.apt(["libv4l-dev"])]),
        // Image decoders (Sources/Capture/ImageDecoding.swift says which decodes what, and why).
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CTIFF", pkgConfig: "libtiff-4", providers: [.apt(["libtiff-dev"])]),
        .systemLibrary(name: "CWebP", pkgConfig: "libwebpdemux", providers: [.apt(["libwebp-dev"])]),
        .systemLibrary(name: "CGIF", providers: [.apt(["libgif-dev"])]),
        // SHA-256 (hardware-accelerated where the CPU has SHA extensions) for the embedding cache's keys.
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // The libjpeg, libpng and libtiff calls Swift cannot make (errors that long-jump, a variadic getter).
        .target(name: "CImageCodecs", dependencies: ["CJPEG", "CPNG", "CTIFF"]),

        // Linux calls Swift cannot make (renameat2, a spawn whose child dies with clipcam), and file access that
        // never blocks on a special file, takes names as bytes and replaces nothing by accident.
        .target(name: "CLinux"),
        .target(name: "SafeFiles", dependencies: ["CLinux"]),

        // CLIP itself.
        .target(name: "CLIPTokenizer", dependencies: ["SafeFiles"]),
        .target(name: "VNNIKernels", swiftSettings: vnniSettings),
        // A software prefetch for the AVX-512 kernel (a C macro Swift cannot call).
        .target(name: "CPrefetch"),
        .target(name: "AVX512Kernels", dependencies: ["CPrefetch"], swiftSettings: avx512Settings),
        .target(
            name: "CLIPModel", dependencies: ["COpenBLAS", "VNNIKernels", "AVX512Kernels", "SafeFiles"],
            swiftSettings: fastMath),

        // The live pipeline's parts.
        .target(
            name: "Capture", dependencies: ["CV4L2", "CSDL2", "CLinux", "SafeFiles", "CImageCodecs", "CWebP", "CGIF"]),
        .target(name: "ScoreScale"),
        .target(name: "Display", dependencies: ["CSDL2", "CFreeType", "ScoreScale", "SafeFiles"]),
        .target(
            name: "Classifier", dependencies: ["CLIPModel", "CLIPTokenizer", "ScoreScale"], swiftSettings: fastMath),
        .target(
            name: "ClipCamKit",
            dependencies: ["Capture", "Display", "Classifier", "CLIPModel", "CLIPTokenizer", "SafeFiles", "CLinux"]),
        // Videos looked into after the fact: timelines of frame embeddings, segments, search, the embedding cache.
        .target(
            name: "Investigator",
            dependencies: ["ClipCamKit", "Capture", "Classifier", "CLIPModel", "SafeFiles", "CLinux", "COpenSSL"]),

        // The investigate window: a video with every prompt's score over time below it.
        .target(
            name: "InvestigateWindow",
            dependencies: ["CSDL2", "Capture", "Classifier", "ClipCamKit", "Display", "Investigator"]),

        .executableTarget(
            name: "clipcam",
            dependencies: [
                "ClipCamKit", "Investigator", "SafeFiles", "CLinux", "Capture", "InvestigateWindow", "Display",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Times PlotStrip.draw on long series (README, Investigate a video): `swift run -c release plot-bench`.
        .executableTarget(name: "plot-bench", dependencies: ["Display"]),
        // Reads frames from a source and prints them as JSON lines; the Capture tests drive it.
        .executableTarget(name: "capture-probe", dependencies: ["Capture", "SafeFiles"]),

        .testTarget(name: "SafeFilesTests", dependencies: ["SafeFiles"]),
        .testTarget(name: "CLIPTokenizerTests", dependencies: ["CLIPTokenizer"]),
        .testTarget(name: "CLIPModelTests", dependencies: ["CLIPModel", "Classifier", "Capture"]),
        .testTarget(name: "CaptureTests", dependencies: ["Capture"]),
        .testTarget(name: "DisplayTests", dependencies: ["Display", "ScoreScale"]),
        .testTarget(
            name: "InvestigatorTests",
            dependencies: ["Investigator", "ClipCamKit", "CLIPModel", "Classifier", "Capture", "SafeFiles", "Display"]),
        .testTarget(
            name: "InvestigateWindowTests",
            dependencies: ["InvestigateWindow", "ClipCamKit", "Classifier", "Display", "Capture", "CSDL2"]),
        .testTarget(
            name: "ClipCamTests",
            dependencies: ["ClipCamKit", "CLIPModel", "Classifier", "ScoreScale", "Capture", "SafeFiles"]),
    ]
)
