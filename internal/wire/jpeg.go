package wire

import "encoding/binary"

// JPEGDims returns the width and height a JPEG declares in its frame header (SOF),
// without decoding the image. A decoder allocates from these numbers, so checking
// them first is how a worker refuses a decompression bomb: a few KB that claim to
// be 60000×60000.
//
// It walks the marker segments from SOI up to the first scan (SOS), which is
// cheap: only headers are read, never entropy-coded data. It fails (ErrBadJPEG)
// when the data does not start with SOI, a segment is truncated or malformed,
// there is no SOF before the first SOS or EOI, there are two SOFs, or the SOF
// declares a zero width or height (a height defined later by a DNL marker, which
// Go's image/jpeg does not support either).
func JPEGDims(jpeg []byte) (w, h int, err error) {
	if len(jpeg) < 2 || jpeg[0] != 0xFF || jpeg[1] != 0xD8 {
		return 0, 0, newErr(ErrBadJPEG, "JPEG does not start with an SOI marker (FF D8)")
	}
	found := false
	for i := 2; ; {
		if i >= len(jpeg) {
			return 0, 0, newErr(ErrBadJPEG, "JPEG ends at byte %d before its first scan", i)
		}
		if jpeg[i] != 0xFF {
			return 0, 0, newErr(ErrBadJPEG, "JPEG has byte 0x%02X at %d where a marker should start", jpeg[i], i)
		}
		for i < len(jpeg) && jpeg[i] == 0xFF { // fill bytes may precede a marker
			i++
		}
		if i >= len(jpeg) {
			return 0, 0, newErr(ErrBadJPEG, "JPEG ends inside a marker")
		}
		m := jpeg[i]
		i++
		switch {
		case m == 0x01 || 0xD0 <= m && m <= 0xD7: // TEM, RSTn: no payload
			continue
		case m == 0xD8 || m == 0x00:
			return 0, 0, newErr(ErrBadJPEG, "JPEG has an unexpected marker FF %02X at %d", m, i-2)
		case m == 0xD9: // EOI
			return 0, 0, newErr(ErrBadJPEG, "JPEG ends (EOI) before its first scan")
		}
		if i+2 > len(jpeg) {
			return 0, 0, newErr(ErrBadJPEG, "JPEG segment FF %02X at %d is truncated", m, i-2)
		}
		n := int(binary.BigEndian.Uint16(jpeg[i:]))
		if n < 2 || i+n > len(jpeg) {
			return 0, 0, newErr(ErrBadJPEG, "JPEG segment FF %02X at %d has length %d, %d bytes left", m, i-2, n, len(jpeg)-i)
		}
		seg := jpeg[i+2 : i+n]
		switch {
		case m == 0xDA: // SOS: image data follows; the header part is over
			if !found {
				return 0, 0, newErr(ErrBadJPEG, "JPEG has a scan before any frame header (SOF)")
			}
			return w, h, nil
		case 0xC0 <= m && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC: // SOFn (not DHT, JPG, DAC)
			if found {
				return 0, 0, newErr(ErrBadJPEG, "JPEG has two frame headers (SOF)")
			}
			if len(seg) < 6 {
				return 0, 0, newErr(ErrBadJPEG, "JPEG frame header (SOF) is %d bytes, want at least 6", len(seg))
			}
			h = int(binary.BigEndian.Uint16(seg[1:]))
			w = int(binary.BigEndian.Uint16(seg[3:]))
			if w == 0 || h == 0 {
				return 0, 0, newErr(ErrBadJPEG, "JPEG frame header declares %dx%d", w, h)
			}
			found = true
		}
		i += n
	}
}
