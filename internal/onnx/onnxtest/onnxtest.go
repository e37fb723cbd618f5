// Package onnxtest makes small, real ONNX models for tests, so that no model
// binary needs to live in the repository.
package onnxtest

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// WriteReduceMeanModel writes a real, valid ONNX model (opset 13) with one
// float32 input [1,3,h,w] and one ReduceMean over the channels, so its
// output is [1,h,w]: it loads like a detector but its output is no
// detection head. Tests use it for "a model of the wrong shape" without
// keeping a binary in the repository. The protobuf is written by hand: the
// project has no protobuf dependency and needs only these few fields.
func WriteReduceMeanModel(t testing.TB, dir string, h, w int) string {
	t.Helper()
	dims := func(ds ...int) []byte {
		var shape []byte
		for _, d := range ds {
			shape = pbBytes(shape, 1, pbVarint(nil, 1, uint64(d))) // Dimension.dim_value
		}
		tensor := pbVarint(nil, 1, 1)      // TypeProto.Tensor.elem_type = FLOAT
		tensor = pbBytes(tensor, 2, shape) // .shape
		return pbBytes(nil, 1, tensor)     // TypeProto.tensor_type
	}
	valueInfo := func(name string, typ []byte) []byte {
		return pbBytes(pbBytes(nil, 1, []byte(name)), 2, typ)
	}
	axes := pbBytes(nil, 1, []byte("axes"))
	axes = pbVarint(axes, 8, 1)  // ints: [1]
	axes = pbVarint(axes, 20, 7) // type = INTS
	keep := pbBytes(nil, 1, []byte("keepdims"))
	keep = pbVarint(keep, 3, 0)  // i = 0
	keep = pbVarint(keep, 20, 2) // type = INT
	node := pbBytes(nil, 1, []byte("images"))
	node = pbBytes(node, 2, []byte("output"))
	node = pbBytes(node, 4, []byte("ReduceMean"))
	node = pbBytes(node, 5, axes)
	node = pbBytes(node, 5, keep)
	graph := pbBytes(nil, 1, node)
	graph = pbBytes(graph, 2, []byte("not-a-detector"))
	graph = pbBytes(graph, 11, valueInfo("images", dims(1, 3, h, w)))
	graph = pbBytes(graph, 12, valueInfo("output", dims(1, h, w)))
	model := pbVarint(nil, 1, 8) // ir_version
	model = pbBytes(model, 7, graph)
	model = pbBytes(model, 8, pbVarint(nil, 2, 13)) // opset_import { version: 13 }
	path := filepath.Join(dir, "not-a-detector.onnx")
	if err := os.WriteFile(path, model, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func pbVarint(b []byte, field int, v uint64) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3)
	return binary.AppendUvarint(b, v)
}

func pbBytes(b []byte, field int, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(field)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}
