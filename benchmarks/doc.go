// Package benchmarks holds riskgate's end-to-end Go benchmarks and, in
// subfolders, the load, detection-quality and filter harnesses. Results and
// the commands that reproduce them are recorded in README.md.
package benchmarks
