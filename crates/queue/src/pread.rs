//! A small buffered reader over a file that reads with `pread` at any offset: seeking only
//! moves a number, so skipping a message's content costs no system call, and the envelope and
//! the extracted segment each cost one read.

use std::fs::File;
use std::io::{self, BufRead, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;

/// Enough for the envelope of a message with dozens of recipients in one read.
pub const DEFAULT_CAPACITY: usize = 4096;

#[derive(Debug)]
pub struct PreadReader<'a> {
    file: &'a File,
    buffer: Vec<u8>,
    /// File offset of `buffer[0]`.
    buffer_start: u64,
    buffer_len: usize,
    position: u64,
}

impl<'a> PreadReader<'a> {
    pub fn new(file: &'a File, capacity: usize) -> Self {
        Self {
            file,
            buffer: vec![0; capacity.max(1)],
            buffer_start: 0,
            buffer_len: 0,
            position: 0,
        }
    }

    fn buffered(&self) -> Option<std::ops::Range<usize>> {
        let end = self.buffer_start + self.buffer_len as u64;
        (self.position >= self.buffer_start && self.position < end)
            .then(|| (self.position - self.buffer_start) as usize..self.buffer_len)
    }
}

impl Read for PreadReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let count = available.len().min(out.len());
        out[..count].copy_from_slice(&available[..count]);
        self.consume(count);
        Ok(count)
    }
}

impl BufRead for PreadReader<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.buffered().is_none() {
            let count = loop {
                match self.file.read_at(&mut self.buffer, self.position) {
                    Ok(count) => break count,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                    Err(error) => return Err(error),
                }
            };
            self.buffer_start = self.position;
            self.buffer_len = count;
        }
        Ok(match self.buffered() {
            Some(range) => &self.buffer[range],
            None => &[],
        })
    }

    fn consume(&mut self, amount: usize) {
        self.position += amount as u64;
    }
}

impl Seek for PreadReader<'_> {
    fn seek(&mut self, target: SeekFrom) -> io::Result<u64> {
        let position = match target {
            SeekFrom::Start(offset) => Some(offset),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
            SeekFrom::End(delta) => self.file.metadata()?.len().checked_add_signed(delta),
        };
        self.position = position
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek out of range"))?;
        Ok(self.position)
    }

    fn stream_position(&mut self) -> io::Result<u64> {
        Ok(self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_across_buffers_and_seeks_without_rereading() {
        let mut file = tempfile::tempfile().expect("temp file");
        let bytes: Vec<u8> = (0..10_000u32).map(|n| (n % 251) as u8).collect();
        file.write_all(&bytes).expect("write");
        let mut reader = PreadReader::new(&file, 64);
        let mut head = vec![0; 100];
        reader.read_exact(&mut head).expect("read");
        assert_eq!(head, bytes[..100]);
        reader.seek(SeekFrom::Current(9_000)).expect("seek");
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).expect("read");
        assert_eq!(rest, bytes[9_100..]);
        assert_eq!(reader.stream_position().expect("position"), 10_000);
    }
}
