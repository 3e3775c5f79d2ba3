package dev.fedprune.security.pki;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.UnrecoverableKeyException;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The coordinator's keys in one password-protected PKCS#12 file: the CA, the TLS server key and the
 * signing key, each with its certificate. Created on first start; on later starts the same CA is
 * loaded (so every site's pinned fingerprint stays valid) and the server and signing certificates
 * are re-issued when they near expiry or the server names changed. The password is never logged.
 */
public final class CoordinatorKeyStore {
    private static final Logger log = LoggerFactory.getLogger(CoordinatorKeyStore.class);
    public static final String CA = "ca";
    public static final String SERVER = "server";
    public static final String SIGNING = "signing";
    static final Duration CA_VALIDITY = Duration.ofDays(3650);
    static final Duration LEAF_VALIDITY = Duration.ofDays(365);
    static final Duration REISSUE_BEFORE = Duration.ofDays(30);

    private final CertificateAuthority ca;
    private final PrivateKey serverKey;
    private final X509Certificate serverCertificate;
    private final PrivateKey signingKey;
    private final X509Certificate signingCertificate;

    private CoordinatorKeyStore(CertificateAuthority ca, PrivateKey serverKey, X509Certificate serverCertificate, PrivateKey signingKey,
                                X509Certificate signingCertificate) {
        this.ca = ca;
        this.serverKey = serverKey;
        this.serverCertificate = serverCertificate;
        this.signingKey = signingKey;
        this.signingCertificate = signingCertificate;
    }

    /**
     * Opens the keystore, creating it (and the CA) when the file does not exist.
     *
     * @param serverNames host names and IP addresses the agents dial; they go into the server certificate
     */
    public static CoordinatorKeyStore openOrCreate(Path file, char[] password, List<String> serverNames, Instant now) throws IOException {
        if (password == null || password.length == 0) {
            throw new IllegalArgumentException("keystore password: required");
        }
        if (!Files.exists(file)) {
            CertificateAuthority ca = CertificateAuthority.create("FedPrune coordinator CA", now, CA_VALIDITY);
            CoordinatorKeyStore created = issueLeaves(ca, serverNames, now);
            created.save(file, password);
            log.info("created the coordinator CA and keystore {}", file.toAbsolutePath());
            return created;
        }
        KeyStore ks;
        try (InputStream in = Files.newInputStream(file)) {
            ks = KeyStore.getInstance("PKCS12");
            ks.load(in, password);
        } catch (IOException e) {
            if (e.getCause() instanceof UnrecoverableKeyException || String.valueOf(e.getMessage()).contains("password")) {
                throw new IOException("keystore " + file + " cannot be opened: wrong password", e);
            }
            throw new IOException("keystore " + file + " cannot be read: " + e.getMessage(), e);
        } catch (GeneralSecurityException e) {
            throw new IOException("keystore " + file + " cannot be read: " + e.getMessage(), e);
        }
        try {
            CertificateAuthority ca = new CertificateAuthority((PrivateKey) key(ks, CA, password, file), (X509Certificate) ks.getCertificate(CA));
            PrivateKey serverKey = (PrivateKey) key(ks, SERVER, password, file);
            X509Certificate server = (X509Certificate) ks.getCertificate(SERVER);
            PrivateKey signingKey = (PrivateKey) key(ks, SIGNING, password, file);
            X509Certificate signing = (X509Certificate) ks.getCertificate(SIGNING);
            CoordinatorKeyStore loaded = new CoordinatorKeyStore(ca, serverKey, server, signingKey, signing);
            if (loaded.needsReissue(serverNames, now)) {
                CoordinatorKeyStore reissued = issueLeaves(ca, serverNames, now);
                reissued.save(file, password);
                log.info("re-issued the coordinator's server and signing certificates for {}", serverNames);
                return reissued;
            }
            return loaded;
        } catch (GeneralSecurityException e) {
            throw new IOException("keystore " + file + " is incomplete or damaged: " + e.getMessage(), e);
        }
    }

    private static java.security.Key key(KeyStore ks, String alias, char[] password, Path file) throws GeneralSecurityException {
        java.security.Key k = ks.getKey(alias, password);
        if (k == null) {
            throw new GeneralSecurityException("no entry '" + alias + "' in " + file);
        }
        return k;
    }

    private boolean needsReissue(List<String> serverNames, Instant now) throws GeneralSecurityException {
        Instant soon = now.plus(REISSUE_BEFORE);
        if (serverCertificate.getNotAfter().toInstant().isBefore(soon) || signingCertificate.getNotAfter().toInstant().isBefore(soon)) {
            return true;
        }
        var sans = serverCertificate.getSubjectAlternativeNames();
        java.util.Set<String> present = new java.util.HashSet<>();
        if (sans != null) {
            sans.forEach(e -> present.add(String.valueOf(e.get(1))));
        }
        return !present.containsAll(serverNames.stream().map(n -> n.equals("::1") ? "0:0:0:0:0:0:0:1" : n).toList());
    }

    private static CoordinatorKeyStore issueLeaves(CertificateAuthority ca, List<String> serverNames, Instant now) {
        KeyPair server = KeyPairs.generate();
        KeyPair signing = KeyPairs.generate();
        return new CoordinatorKeyStore(ca, server.getPrivate(), ca.issueServer(server.getPublic(), serverNames, now, LEAF_VALIDITY),
                signing.getPrivate(), ca.issueSigning(signing.getPublic(), now, LEAF_VALIDITY));
    }

    private void save(Path file, char[] password) throws IOException {
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry(CA, ca.privateKey(), password, new Certificate[] {ca.certificate()});
            ks.setKeyEntry(SERVER, serverKey, password, new Certificate[] {serverCertificate, ca.certificate()});
            ks.setKeyEntry(SIGNING, signingKey, password, new Certificate[] {signingCertificate, ca.certificate()});
            Path dir = file.toAbsolutePath().getParent();
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
            restrictToOwner(tmp);
            try (OutputStream out = Files.newOutputStream(tmp)) {
                ks.store(out, password);
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot write keystore " + file + ": " + e.getMessage(), e);
        }
    }

    /** Owner read/write only where the file system has POSIX permissions. */
    public static void restrictToOwner(Path file) throws IOException {
        try {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException e) {
            // not a POSIX file system (Windows): the directory's ACL applies
        }
    }

    public CertificateAuthority ca() {
        return ca;
    }

    public String caFingerprint() {
        return ca.fingerprint();
    }

    public PrivateKey serverKey() {
        return serverKey;
    }

    /** Server certificate then CA certificate, as TLS presents them. */
    public X509Certificate[] serverChain() {
        return new X509Certificate[] {serverCertificate, ca.certificate()};
    }

    public PrivateKey signingKey() {
        return signingKey;
    }

    public X509Certificate signingCertificate() {
        return signingCertificate;
    }
}
