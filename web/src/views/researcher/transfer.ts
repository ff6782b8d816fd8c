import { api, ApiError, call, fetchWithTicket, savedTicket } from '../../api/client.ts';
import type { FsEntry, Upload } from './types.ts';

/** Chunks of an upload: each PUT is one request, so a broken connection loses at most one chunk. */
export const UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024;

export interface Progress {
  done: number;
  total: number;
}

function errorOfXhr(xhr: XMLHttpRequest): ApiError {
  try {
    const body = JSON.parse(xhr.responseText) as { error?: { code?: string; message?: string } };
    if (body.error?.message) return new ApiError(xhr.status, body.error.code ?? `HTTP_${xhr.status}`, body.error.message);
  } catch {
    // not JSON
  }
  return new ApiError(xhr.status, xhr.status === 0 ? 'UNREACHABLE' : `HTTP_${xhr.status}`, xhr.status === 0 ? 'the upload was interrupted (no answer from the server)' : `the server answered ${xhr.status}`);
}

/** One chunk through XMLHttpRequest, which (unlike fetch) reports upload progress. */
function putChunk(upload: Upload, offset: number, chunk: Blob, onProgress: (sent: number) => void, signal?: AbortSignal): Promise<Upload> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', `/api/fs/uploads/${encodeURIComponent(upload.id)}?offset=${offset}`);
    const ticket = savedTicket();
    if (ticket) xhr.setRequestHeader('authorization', `Bearer ${ticket}`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve(JSON.parse(xhr.responseText) as Upload) : reject(errorOfXhr(xhr)));
    xhr.onerror = () => reject(errorOfXhr(xhr));
    xhr.onabort = () => reject(new ApiError(0, 'ABORTED', 'the upload was stopped'));
    signal?.addEventListener('abort', () => xhr.abort());
    xhr.send(chunk);
  });
}

/** Uploads a file through an upload session (create, PUT chunks from `received`, commit); reports bytes sent. */
export async function uploadFile(file: File, path: string, onProgress: (progress: Progress) => void, signal?: AbortSignal): Promise<FsEntry> {
  let upload = await call(api.POST('/api/fs/uploads', { body: { path, size: file.size, overwrite: true, tag: `web:${file.name}` } }));
  onProgress({ done: 0, total: file.size });
  while (upload.received < file.size) {
    const offset = upload.received;
    const chunk = file.slice(offset, Math.min(file.size, offset + UPLOAD_CHUNK_BYTES));
    upload = await putChunk(upload, offset, chunk, (sent) => onProgress({ done: offset + sent, total: file.size }), signal);
    onProgress({ done: upload.received, total: file.size });
  }
  return call(api.POST('/api/fs/uploads/{id}/commit', { params: { path: { id: upload.id } }, body: {} }));
}

/** Reads a file's bytes as they stream in (progress from Content-Length), then hands them to the browser as a download. */
export async function downloadFile(path: string, onProgress: (progress: Progress) => void): Promise<void> {
  const response = await fetchWithTicket(`/api/fs/content?path=${encodeURIComponent(path)}`);
  const total = Number(response.headers.get('content-length') ?? response.headers.get('x-keisan-size') ?? 0);
  const parts: Uint8Array<ArrayBuffer>[] = [];
  let done = 0;
  onProgress({ done, total });
  if (response.body) {
    const reader = response.body.getReader();
    for (;;) {
      const { value, done: finished } = await reader.read();
      if (finished) break;
      parts.push(value);
      done += value.byteLength;
      onProgress({ done, total });
    }
  }
  const url = URL.createObjectURL(new Blob(parts, { type: 'application/octet-stream' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = path.slice(path.lastIndexOf('/') + 1);
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
