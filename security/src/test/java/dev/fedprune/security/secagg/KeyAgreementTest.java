package dev.fedprune.security.secagg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fedprune.security.InvalidSecurityInputException;
import dev.fedprune.security.SignatureRejectedException;
import dev.fedprune.security.pki.KeyPairs;
import java.security.KeyPair;
import java.security.SecureRandom;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class KeyAgreementTest {
    final SecureRandom random = new SecureRandom();

    @Test
    void bothEndsDeriveTheSameMaskSeedBoundToJobRoundAndPair() {
        X25519Keys u = X25519Keys.generate(random);
        X25519Keys v = X25519Keys.generate(random);
        byte[] atU = RoundSecrets.maskSeed(X25519Keys.agree(u.privateKey(), v.publicKey(), "v"), "job-1", 3, "agent-a", "agent-b");
        byte[] atV = RoundSecrets.maskSeed(X25519Keys.agree(v.privateKey(), u.publicKey(), "u"), "job-1", 3, "agent-a", "agent-b");
        assertArrayEquals(atU, atV);
        byte[] shared = X25519Keys.agree(u.privateKey(), v.publicKey(), "v");
        assertFalse(Arrays.equals(atU, RoundSecrets.maskSeed(shared, "job-1", 4, "agent-a", "agent-b")));
        assertFalse(Arrays.equals(atU, RoundSecrets.maskSeed(shared, "job-2", 3, "agent-a", "agent-b")));
        assertFalse(Arrays.equals(atU, RoundSecrets.shareKey(shared, "job-1", 3, "agent-a", "agent-b")));
        assertFalse(Arrays.equals(RoundSecrets.shareKey(shared, "job-1", 3, "agent-a", "agent-b"), RoundSecrets.shareKey(shared, "job-1", 3, "agent-b", "agent-a")));
    }

    @Test
    void reconstructedPrivateKeyGivesTheAdvertisedPublicKey() {
        X25519Keys u = X25519Keys.generate(random);
        byte[] back = Shamir.combine(Shamir.split(u.privateKey(), 3, 5, random).subList(1, 4), 3);
        assertArrayEquals(u.publicKey(), X25519Keys.fromPrivateKey(back).publicKey());
    }

    @Test
    void refusesSmallOrderPeerKey() {
        X25519Keys u = X25519Keys.generate(random);
        var e = assertThrows(InvalidSecurityInputException.class, () -> X25519Keys.agree(u.privateKey(), new byte[32], "agent-x"));
        assertTrue(e.getMessage().contains("agent-x"), e.getMessage());
    }

    @Test
    void advertisementVerifiesWithTheAgentsIdentityKeyOnly() {
        KeyPair identity = KeyPairs.generate();
        X25519Keys c = X25519Keys.generate(random);
        X25519Keys s = X25519Keys.generate(random);
        KeyAdvertisement ad = KeyAdvertisement.sign("job-1", 2, "agent-a", c.publicKey(), s.publicKey(), identity.getPrivate());
        ad.verify("job-1", identity.getPublic());
        assertThrows(SignatureRejectedException.class, () -> ad.verify("job-2", identity.getPublic()));
        assertThrows(SignatureRejectedException.class, () -> ad.verify("job-1", KeyPairs.generate().getPublic()));
        KeyAdvertisement swapped = new KeyAdvertisement("agent-a", 2, c.publicKey(), X25519Keys.generate(random).publicKey(), ad.signature());
        assertThrows(SignatureRejectedException.class, () -> swapped.verify("job-1", identity.getPublic()));
        KeyAdvertisement otherRound = new KeyAdvertisement("agent-a", 3, c.publicKey(), s.publicKey(), ad.signature());
        assertThrows(SignatureRejectedException.class, () -> otherRound.verify("job-1", identity.getPublic()));
    }
}
