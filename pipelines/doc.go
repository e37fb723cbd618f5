// Package pipelines holds ready gst-launch-1.0 recipes (the *.sh files in
// this folder) and the tests that run them against the built plugin
// (build/libgstreact.so, made by `make plugin`).
package pipelines
