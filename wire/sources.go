package wire

// FileResponse is a file uploaded for source packages (PUT /v1/files/{sha256}).
type FileResponse struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}
