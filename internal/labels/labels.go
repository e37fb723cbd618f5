// Package labels holds class-name lists: the built-in COCO-80 list that every
// YOLOX model of gst-react was trained on, and a loader for label files (one
// name per line) so a model with other classes can bring its own list.
package labels

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// coco is the COCO-80 list in the order YOLO/YOLOX models emit class scores
// (class index i is coco[i]). It is kept here as Go rather than embedded from
// models/coco.names because go:embed cannot reach a parent directory; a test
// checks that both stay identical.
var coco = []string{
	"person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck",
	"boat", "traffic light", "fire hydrant", "stop sign", "parking meter", "bench",
	"bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra",
	"giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
	"skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove",
	"skateboard", "surfboard", "tennis racket", "bottle", "wine glass", "cup",
	"fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
	"broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
	"potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
	"remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
	"refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
	"hair drier", "toothbrush",
}

// COCO returns the 80 COCO class names in model output order. The slice is a
// fresh copy, so callers may modify it.
func COCO() []string {
	return append([]string(nil), coco...)
}

// Load reads a label file: one class name per line, in class-index order.
// Surrounding whitespace and a trailing CR (files written on Windows) are
// trimmed, and trailing empty lines are ignored. An empty file or an empty
// line between names is an error, because it would silently shift every
// following class index.
func Load(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	names, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("labels: %s: %w", path, err)
	}
	return names, nil
}

// Parse is Load on bytes already read; its errors name the line but not a file.
func Parse(data []byte) ([]string, error) {
	lines := strings.Split(string(bytes.TrimRight(data, " \t\r\n")), "\n")
	if len(lines) == 1 && strings.TrimSpace(lines[0]) == "" {
		return nil, fmt.Errorf("no labels (empty file); write one class name per line")
	}
	names := make([]string, 0, len(lines))
	for i, l := range lines {
		l = strings.TrimSpace(l) // also removes the CR of a CRLF line end
		if l == "" {
			return nil, fmt.Errorf("line %d is empty; every line up to the last label must hold a class name, or class indices shift", i+1)
		}
		names = append(names, l)
	}
	return names, nil
}
