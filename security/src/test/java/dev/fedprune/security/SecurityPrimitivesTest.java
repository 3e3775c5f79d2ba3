package dev.fedprune.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.security.pki.CertificateAuthority;
import dev.fedprune.security.pki.CertificateVerifier;
import dev.fedprune.security.pki.CertificateVerifier.Purpose;
import dev.fedprune.security.pki.CoordinatorKeyStore;
import dev.fedprune.security.pki.Csrs;
import dev.fedprune.security.pki.Fingerprints;
import dev.fedprune.security.pki.KeyPairs;
import dev.fedprune.security.pki.Pem;
import dev.fedprune.security.secret.Argon2idPasswordHasher;
import dev.fedprune.security.secret.SecretTokens;
import dev.fedprune.security.sign.ReplayGuard;
import dev.fedprune.security.sign.Signatures;
import dev.fedprune.security.sign.Statements;
import dev.fedprune.security.tls.PinnedCaMismatchException;
import dev.fedprune.security.tls.PinnedCaTrustManager;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SecurityPrimitivesTest {
    static final Instant NOW = Instant.parse("2026-01-01T00:00:00Z");
    static final CertificateAuthority CA = CertificateAuthority.create("test CA", NOW, Duration.ofDays(10));

    @TempDir
    Path dir;

    @Test
    void issuesAgentCertificateFromCsrThatVerifiesAgainstTheCa() {
        KeyPair agent = KeyPairs.generate();
        var key = Csrs.verify(Csrs.create(agent, "hospital-a"), "csr_pem");
        X509Certificate cert = CA.issueAgent(key, "agent-1", NOW, Duration.ofHours(24));
        CertificateVerifier.verify(cert, CA.certificate(), NOW.plusSeconds(60), Purpose.CLIENT);
        assertEquals("agent-1", CertificateVerifier.commonName(cert));
        assertEquals(agent.getPublic(), cert.getPublicKey());
        X509Certificate roundTrip = Pem.certificate(Pem.write(cert), "certificate_pem");
        assertEquals(cert, roundTrip);
        String keyPem = Pem.write(agent.getPrivate());
        assertTrue(keyPem.startsWith("-----BEGIN PRIVATE KEY-----"), keyPem);
        var loaded = Pem.privateKey(keyPem, "agent-key.pem");
        byte[] statement = Statements.artifact("a", 1, "b");
        Signatures.verify(agent.getPublic(), statement, Signatures.sign(loaded, statement), "round-tripped key");
    }

    @Test
    void refusesCertificateFromAnotherCaExpiredOrForAnotherPurpose() {
        KeyPair agent = KeyPairs.generate();
        CertificateAuthority other = CertificateAuthority.create("test CA", NOW, Duration.ofDays(10));
        X509Certificate foreign = other.issueAgent(agent.getPublic(), "agent-1", NOW, Duration.ofHours(1));
        var e = assertThrows(CertificateRejectedException.class, () -> CertificateVerifier.verify(foreign, CA.certificate(), NOW, Purpose.CLIENT));
        assertTrue(e.getMessage().contains("does not verify with this coordinator's CA key"), e.getMessage());

        X509Certificate cert = CA.issueAgent(agent.getPublic(), "agent-1", NOW, Duration.ofHours(1));
        var expired = assertThrows(CertificateRejectedException.class,
                () -> CertificateVerifier.verify(cert, CA.certificate(), NOW.plus(Duration.ofHours(2)), Purpose.CLIENT));
        assertTrue(expired.getMessage().contains("expired at"), expired.getMessage());
        var purpose = assertThrows(CertificateRejectedException.class, () -> CertificateVerifier.verify(cert, CA.certificate(), NOW, Purpose.SERVER));
        assertTrue(purpose.getMessage().contains("not a TLS server certificate"));
    }

    @Test
    void refusesMalformedCsrAndCsrForAnotherKey() {
        var garbage = assertThrows(InvalidSecurityInputException.class, () -> Csrs.verify("hello", "csr_pem"));
        assertEquals("csr_pem", garbage.field());
        var notCsr = assertThrows(InvalidSecurityInputException.class, () -> Csrs.verify(Pem.write(CA.certificate()), "csr_pem"));
        assertTrue(notCsr.getMessage().contains("found a certificate"), notCsr.getMessage());
        String broken = "-----BEGIN CERTIFICATE REQUEST-----\nAAAABBBBCCCC\n-----END CERTIFICATE REQUEST-----\n";
        assertThrows(InvalidSecurityInputException.class, () -> Csrs.verify(broken, "csr_pem"));

        // A CSR carrying key B but signed with key A: no proof of possession of B.
        KeyPair a = KeyPairs.generate();
        KeyPair b = KeyPairs.generate();
        String forged = Csrs.create(new KeyPair(b.getPublic(), a.getPrivate()), "x");
        var e = assertThrows(InvalidSecurityInputException.class, () -> Csrs.verify(forged, "csr_pem"));
        assertTrue(e.getMessage().contains("proof of possession"), e.getMessage());
    }

    @Test
    void contributionSignatureBindsEveryField() {
        KeyPair agent = KeyPairs.generate();
        byte[] statement = Statements.contribution("job-1", 0, "task-1", "agent-1", "ab".repeat(32), "nonce-0123456789abcdef");
        byte[] sig = Signatures.sign(agent.getPrivate(), statement);
        Signatures.verify(agent.getPublic(), statement, sig, "contribution");
        byte[] otherRound = Statements.contribution("job-1", 1, "task-1", "agent-1", "ab".repeat(32), "nonce-0123456789abcdef");
        assertThrows(SignatureRejectedException.class, () -> Signatures.verify(agent.getPublic(), otherRound, sig, "contribution"));
        assertThrows(SignatureRejectedException.class, () -> Signatures.verify(KeyPairs.generate().getPublic(), statement, sig, "contribution"));
        var garbage = assertThrows(SignatureRejectedException.class, () -> Signatures.verify(agent.getPublic(), statement, new byte[] {1, 2, 3}, "contribution"));
        assertTrue(garbage.getMessage().startsWith("signature:"));
        assertThrows(SignatureRejectedException.class, () -> Signatures.verify(agent.getPublic(), statement, new byte[0], "contribution"));
        // Length prefixes: moving a character between fields changes the statement.
        assertNotEquals(List.of(Statements.artifact("ab", 1, "c")), List.of(Statements.artifact("a", 1, "bc")));
    }

    @Test
    void replayGuardRefusesSecondUseOfANonce() {
        ReplayGuard guard = new ReplayGuard(new ReplayGuard.InMemory());
        String nonce = ReplayGuard.newNonce();
        guard.checkUnused("agent-1", nonce, "nonce");
        guard.consume("agent-1", nonce, "task-1", 1, "nonce");
        assertThrows(ReplayedNonceException.class, () -> guard.checkUnused("agent-1", nonce, "nonce"));
        assertThrows(ReplayedNonceException.class, () -> guard.consume("agent-1", nonce, "task-2", 2, "nonce"));
        guard.consume("agent-2", nonce, "task-3", 3, "nonce");
        assertThrows(InvalidSecurityInputException.class, () -> guard.checkUnused("agent-1", "short", "nonce"));
    }

    @Test
    void argon2idHashesVerifyOnlyTheRightPassword() {
        Argon2idPasswordHasher hasher = new Argon2idPasswordHasher(1024, 1, 1);
        String hash = hasher.hash("correct horse");
        assertTrue(hash.startsWith("$argon2id$v=19$m=1024,t=1,p=1$"));
        assertTrue(hasher.matches("correct horse", hash));
        assertFalse(hasher.matches("wrong", hash));
        assertFalse(hasher.matches("correct horse", "$argon2id$garbage"));
        assertNotEquals(hash, hasher.hash("correct horse"), "salted");
    }

    @Test
    void tokensAreRandomAndStoredHashed() {
        String t = SecretTokens.generate(SecretTokens.ENROLLMENT_PREFIX);
        assertTrue(SecretTokens.looksLike(t, SecretTokens.ENROLLMENT_PREFIX));
        assertFalse(SecretTokens.looksLike("fpe_short", SecretTokens.ENROLLMENT_PREFIX));
        assertEquals(64, SecretTokens.hash(t).length());
        assertNotEquals(t, SecretTokens.generate(SecretTokens.ENROLLMENT_PREFIX));
    }

    @Test
    void keyStoreKeepsTheCaAcrossRestartsAndRefusesAWrongPassword() throws Exception {
        Path file = dir.resolve("keystore.p12");
        CoordinatorKeyStore first = CoordinatorKeyStore.openOrCreate(file, "pw-1".toCharArray(), List.of("localhost", "127.0.0.1"), Instant.now());
        CoordinatorKeyStore again = CoordinatorKeyStore.openOrCreate(file, "pw-1".toCharArray(), List.of("localhost", "127.0.0.1"), Instant.now());
        assertEquals(first.caFingerprint(), again.caFingerprint());
        assertEquals(first.serverChain()[0], again.serverChain()[0]);
        CoordinatorKeyStore renamed = CoordinatorKeyStore.openOrCreate(file, "pw-1".toCharArray(), List.of("coordinator.example"), Instant.now());
        assertEquals(first.caFingerprint(), renamed.caFingerprint(), "new server names re-issue the server certificate, not the CA");
        assertNotEquals(first.serverChain()[0], renamed.serverChain()[0]);
        var e = assertThrows(java.io.IOException.class, () -> CoordinatorKeyStore.openOrCreate(file, "wrong".toCharArray(), List.of(), Instant.now()));
        assertTrue(e.getMessage().contains("wrong password"), e.getMessage());
        assertFalse(e.getMessage().contains("pw-1"));
    }

    @Test
    void pinnedTrustManagerAcceptsOnlyTheCoordinatorOfThePinnedCa() throws Exception {
        Path file = dir.resolve("ks.p12");
        CoordinatorKeyStore ks = CoordinatorKeyStore.openOrCreate(file, "pw".toCharArray(), List.of("localhost"), Instant.now());
        Clock clock = Clock.fixed(Instant.now(), ZoneOffset.UTC);
        PinnedCaTrustManager.forFingerprint(Fingerprints.display(ks.caFingerprint()), clock).checkServerTrusted(ks.serverChain(), "EC");
        CoordinatorKeyStore other = CoordinatorKeyStore.openOrCreate(dir.resolve("other.p12"), "pw".toCharArray(), List.of("localhost"), Instant.now());
        var e = assertThrows(CertificateException.class,
                () -> PinnedCaTrustManager.forFingerprint(ks.caFingerprint(), clock).checkServerTrusted(other.serverChain(), "EC"));
        assertTrue(e.getMessage().contains("pinned fingerprint"), e.getMessage());
        assertThrows(InvalidSecurityInputException.class, () -> PinnedCaTrustManager.forFingerprint("not-hex", clock));

        // Pinned by the stored CA certificate (after enrollment): another CA's server, e.g. a TLS-inspecting proxy, is named as such.
        PinnedCaTrustManager.forCertificate(ks.ca().certificate(), clock).checkServerTrusted(ks.serverChain(), "EC");
        var mismatch = assertThrows(PinnedCaMismatchException.class,
                () -> PinnedCaTrustManager.forCertificate(ks.ca().certificate(), clock).checkServerTrusted(other.serverChain(), "EC"));
        assertTrue(mismatch.getMessage().startsWith("the coordinator's certificate was not issued by the pinned CA"), mismatch.getMessage());
        assertTrue(mismatch.getMessage().contains("a TLS-inspecting proxy on the way"), mismatch.getMessage());
        assertTrue(CertificateVerifier.issuedBy(ks.serverChain()[0], ks.ca().certificate()));
        assertFalse(CertificateVerifier.issuedBy(other.serverChain()[0], ks.ca().certificate()), "same CA name, another CA key");
    }
}
